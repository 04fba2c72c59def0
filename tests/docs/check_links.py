#!/usr/bin/env python3
"""Every relative link in the repository's Markdown resolves inside a clone.

Usage: check_links.py REPO_ROOT
       check_links.py --self-test   (the checker against a tree of known faults)
Reads every *.md file git tracks (or, outside git, every *.md under the root
except build/ and .run/), finds inline links and images `[text](target)`
(text wrapped over lines, targets in <...> with spaces), reference
definitions `[label]: target` and HTML `href`/`src`, drops a ?query, and
fails for a relative target that
  - leaves the repository (a clone has nothing above its root),
  - names a file or folder that does not exist, or
  - has a #fragment that is not a heading of the target Markdown file
    (GitHub's slugs: lower case, punctuation dropped, spaces to hyphens).
Links with a scheme (https:, mailto:) are not fetched: the suite runs offline.
"""
import os
import re
import subprocess
import sys

# Link text may wrap over lines; a target in <...> may hold spaces.
INLINE = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(?:<([^>\n]+)>|([^)\s]+))(?:\s+"[^"]*")?\s*\)')
HTML = re.compile(r'<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*"([^"]+)"', re.IGNORECASE)
REFDEF = re.compile(r'^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$')
SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')
FENCE = re.compile(r'^\s{0,3}(```|~~~)')


def markdown_files(root):
    try:
        out = subprocess.run(['git', '-C', root, 'ls-files', '-z', '*.md'], check=True,
                             capture_output=True).stdout.decode()
        files = [f for f in out.split('\0') if f]
        if files:
            return files
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in ('.git', 'build', '.run')]
        found += [os.path.relpath(os.path.join(d, n), root) for n in names if n.endswith('.md')]
    return found


def prose_lines(text):
    """The lines outside fenced code blocks, with inline code removed."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, re.sub(r'`[^`]*`', '', line)


def prose(text):
    """The text outside fenced code blocks and inline code, with every line
    kept (code lines blanked), so offsets give line numbers."""
    kept = dict(prose_lines(text))
    return '\n'.join(kept.get(n, '') for n in range(1, len(text.splitlines()) + 1))


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r'[^\w\- ]', '', s)
    return s.replace(' ', '-')


def anchors(path):
    result, seen = set(), {}
    with open(path, encoding='utf-8') as f:
        for _, line in prose_lines(f.read()):
            m = re.match(r'^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$', line)
            if m:
                base = slug(m.group(1))
                n = seen.get(base, 0)
                seen[base] = n + 1
                result.add(base if n == 0 else f'{base}-{n}')
    return result


def check(root):
    root = os.path.realpath(root)
    problems = []
    for rel in markdown_files(root):
        src = os.path.join(root, rel)
        with open(src, encoding='utf-8') as f:
            text = f.read()
        body = prose(text)
        found = [(m.start(), m.group(1) or m.group(2)) for m in INLINE.finditer(body)]
        found += [(m.start(), m.group(1)) for m in HTML.finditer(body)]
        offset = 0
        for line in body.split('\n'):
            m = REFDEF.match(line)
            if m:
                found.append((offset, m.group(1)))
            offset += len(line) + 1
        for at, target in sorted(found):
            number = body.count('\n', 0, at) + 1
            if SCHEME.match(target):
                continue
            where = f'{rel}:{number}: {target}'
            path, _, fragment = target.partition('#')
            path = path.split('?', 1)[0]
            dest = os.path.realpath(os.path.join(os.path.dirname(src), path)) if path else src
            if dest != root and not dest.startswith(root + os.sep):
                problems.append(f'{where}: leaves the repository')
            elif not os.path.exists(dest):
                problems.append(f'{where}: no such file')
            elif fragment and dest.endswith('.md') and fragment not in anchors(dest):
                problems.append(f'{where}: no heading #{fragment}')
    return problems


def self_test():
    """Each kind of broken link is reported, and nothing else is."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        repo = os.path.join(tmp, 'repo')
        os.makedirs(os.path.join(repo, 'docs'))
        with open(os.path.join(tmp, 'outside.md'), 'w') as f:
            f.write('# Outside\n')
        with open(os.path.join(repo, 'docs', 'A.md'), 'w') as f:
            f.write('# Title\n## Rules every route follows\n## Dup\n## Dup\n')
        with open(os.path.join(repo, 'README.md'), 'w') as f:
            f.write('[ok](docs/A.md) [ok](docs/A.md#rules-every-route-follows) [ok](docs/A.md#dup-1)\n'
                    '[ok](https://example.com/x) [ok](#readme) ![ok](docs/)\n'
                    '# README\n'
                    '`[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n'
                    '[out](../outside.md)\n[missing](docs/B.md)\n[anchor](docs/A.md#nope)\n'
                    '[ref]: docs/C.md\n'
                    'See [the\nwrapped](docs/NOPE.md) [ok](<docs/A B.md>) <a href="docs/GONE.md">x</a>\n'
                    '[ok](docs/A.md?plain=1)\n')
        with open(os.path.join(repo, 'docs', 'A B.md'), 'w') as f:
            f.write('# Spaced\n')
        got = sorted(p.split(': ', 1)[0] + ': ' + p.rsplit(': ', 1)[1] for p in check(repo))
    want = sorted(['README.md:8: leaves the repository', 'README.md:9: no such file',
                   'README.md:10: no heading #nope', 'README.md:11: no such file',
                   'README.md:12: no such file', 'README.md:13: no such file'])
    if got != want:
        sys.exit(f'self-test failed:\n got  {got}\n want {want}')
    print('self-test: every kind of broken link found')


def main():
    if sys.argv[1:] == ['--self-test']:
        return self_test()
    if len(sys.argv) != 2:
        sys.exit('usage: check_links.py REPO_ROOT')
    problems = check(sys.argv[1])
    for p in problems:
        print(p)
    print(f'{len(problems)} broken link(s)' if problems else 'every relative link resolves')
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
