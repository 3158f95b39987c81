#!/usr/bin/env python3
"""Write a Go module proxy tree (the GOPROXY protocol's file layout) for the go_env tests.

<root>/<module>/@v/{list,<v>.info,<v>.mod,<v>.zip} for:
- corp.example.com/lib: private (GOPRIVATE), served by the proxy (GONOPROXY=none);
- mirror.example.net/tool: public but exempt from checksum verification (GONOSUMDB);
- example.com/public: covered by nothing, so the checksum database must vouch for it;
- golang.org/toolchain go1.99.0: a stand-in toolchain whose go and gofmt run the local Go with
  this zip's own GOROOT, to show what a GOTOOLCHAIN switch does to the environment.
"""

import json
import os
import sys
import zipfile

STOCK_GO_ENV = """# This file contains the initial defaults for go command configuration.
GOPROXY=https://proxy.golang.org,direct
GOSUMDB=sum.golang.org
GOTOOLCHAIN=auto
"""


def module(root, path, version, files):
    directory = os.path.join(root, path, '@v')
    os.makedirs(directory, exist_ok=True)
    prefix = '%s@%s/' % (path, version)
    with zipfile.ZipFile(os.path.join(directory, version + '.zip'), 'w') as archive:
        for name, (body, mode) in sorted(files.items()):
            info = zipfile.ZipInfo(prefix + name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            archive.writestr(info, body)
    mod = files.get('go.mod', ('module %s\n' % path, 0))[0]
    with open(os.path.join(directory, version + '.mod'), 'w') as out:
        out.write(mod)
    with open(os.path.join(directory, version + '.info'), 'w') as out:
        json.dump({'Version': version, 'Time': '2026-01-01T00:00:00Z'}, out)
    with open(os.path.join(directory, 'list'), 'w') as out:
        out.write(version + '\n')


def library(path):
    name = path.rsplit('/', 1)[-1]
    return {'go.mod': ('module %s\n\ngo 1.21\n' % path, 0o644),
            '%s.go' % name: ('package %s\n\nconst Name = "%s"\n' % (name, path), 0o644)}


def main(root):
    for path in ('corp.example.com/lib', 'mirror.example.net/tool', 'example.com/public'):
        module(root, path, 'v1.0.0', library(path))
    # The local Go would refuse to stand in for go1.99.0 ("toolchain go1.27.3 invoked to provide
    # go1.99.0"): drop the switch's marker, keep the GOROOT it set.
    wrapper = ('#!/bin/sh\n# stand-in: the local Go, run with this GOROOT\n'
               'unset GOTOOLCHAIN_INTERNAL_SWITCH_VERSION\n'
               'GOTOOLCHAIN=local exec /usr/local/go/bin/%s "$@"\n')
    module(root, 'golang.org/toolchain', 'v0.0.1-go1.99.0.linux-amd64', {
        'bin/go': (wrapper % 'go', 0o755),
        'bin/gofmt': (wrapper % 'gofmt', 0o755),
        'go.env': (STOCK_GO_ENV, 0o644),
        'VERSION': ('go1.99.0\n', 0o644),
        'lib/.keep': ('', 0o644),
        'pkg/tool/linux_amd64/.keep': ('', 0o644),
    })
    open(os.path.join(root, '.complete'), 'w').close()


if __name__ == '__main__':
    main(sys.argv[1])
