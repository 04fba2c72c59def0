#!/usr/bin/env python3
"""Silent PostgreSQL hosts for the attack: port A accepts and never answers;
port B listens with backlog 0 and never accepts, its queue filled first so
later SYNs are dropped. usage: silent.py PORT_A PORT_B"""
import socket, sys, time
a = socket.socket(); a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
a.bind(("127.0.0.1", int(sys.argv[1]))); a.listen(128)
b = socket.socket(); b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
b.bind(("127.0.0.1", int(sys.argv[2]))); b.listen(0)
fill = []
for _ in range(4):  # fill B's accept queue so the next SYNs are dropped
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", int(sys.argv[2])))
    except BlockingIOError: pass
    fill.append(s)
held = []
a.settimeout(0.2)
while True:
    try: held.append(a.accept()[0])
    except socket.timeout: pass
