-- The relay is woken by the process that committed the user, not by NOTIFY:
-- a transaction that notifies takes a database-wide lock at commit and
-- holds it through the WAL flush, so creates could not share a flush.
-- (pgbench, this insert at 8 clients: 324 tps with the trigger, 1,102
-- without.) Rows of another replica or a crashed run are found by the
-- relay's timer.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
