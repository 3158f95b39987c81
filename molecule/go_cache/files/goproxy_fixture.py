#!/usr/bin/env python3
"""Write a one-module GOPROXY tree (file:// layout) for the go_cache module cache test.

<root>/example.com/greet/@v/{list,v1.0.0.info,v1.0.0.mod,v1.0.0.zip}
"""

import json
import os
import sys
import zipfile

PATH = 'example.com/greet'
VERSION = 'v1.0.0'
FILES = {
    'go.mod': 'module %s\n\ngo 1.21\n' % PATH,
    'greet.go': 'package greet\n\n// Hello greets.\nfunc Hello() string { return "hello" }\n',
    'sub/sub.go': 'package sub\n\nconst Name = "sub"\n',
}


def main(root):
    directory = os.path.join(root, PATH, '@v')
    os.makedirs(directory, exist_ok=True)
    with zipfile.ZipFile(os.path.join(directory, VERSION + '.zip'), 'w') as archive:
        for name, body in sorted(FILES.items()):
            info = zipfile.ZipInfo('%s@%s/%s' % (PATH, VERSION, name), date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, body)
    with open(os.path.join(directory, VERSION + '.mod'), 'w') as out:
        out.write(FILES['go.mod'])
    with open(os.path.join(directory, VERSION + '.info'), 'w') as out:
        json.dump({'Version': VERSION, 'Time': '2026-01-01T00:00:00Z'}, out)
    with open(os.path.join(directory, 'list'), 'w') as out:
        out.write(VERSION + '\n')
    open(os.path.join(root, '.complete'), 'w').close()


if __name__ == '__main__':
    main(sys.argv[1])
