#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: go_release
short_description: Resolve a Go version request against the official release index
description:
  - Reads the Go release index (the JSON served at U(https://go.dev/dl/?mode=json&include=all),
    or a mirror's copy of it given as a URL or a local path) and resolves an exact version,
    a minor such as C(1.27) (its newest stable patch) or C(latest) (the newest stable release).
  - Returns, for each requested architecture, the archive file name, its sha256 and its download URL.
  - Fails when the version, an architecture's archive or its checksum is not in the index,
    so nothing is ever installed without a known checksum.
  - Read-only. It runs on the controller only, in-process, and sends no module to any host. Its one
    implementation is the C(go_release) action plugin, and this file is its documentation. The
    go_toolchain role runs it once per play.
version_added: "1.0.0"
author: go-buildhost contributors (!UNKNOWN)
options:
  version:
    description: C(latest), a minor version such as C(1.27), or an exact version such as C(1.27.3) or C(1.28rc1).
    type: str
    required: true
  index:
    description:
      - Where to read the release index. An C(http://), C(https://) or C(file://) URL,
        or a path on the machine that runs the module.
    type: str
    default: https://go.dev/dl/?mode=json&include=all
  mirror:
    description: Base URL the archives are downloaded from; the returned C(url) is this plus the file name.
    type: str
    default: https://go.dev/dl/
  goarch:
    description: The Go architectures to return archives for.
    type: list
    elements: str
    default: [amd64]
  timeout:
    description: Seconds to wait for the index.
    type: int
    default: 30
attributes:
  check_mode:
    description: Can run in check mode and report what it would return, without changing the target.
    support: full
  diff_mode:
    description: Reports what changed in the target's state when run with C(--diff).
    support: none
'''

EXAMPLES = r'''
- name: Resolve the newest patch of Go 1.27
  go_buildhost.buildhost.go_release:
    version: "1.27"
    goarch: [amd64, arm64]
  delegate_to: localhost
  run_once: true
  register: go_release

- name: Resolve against a mirror's copy of the index
  go_buildhost.buildhost.go_release:
    version: latest
    index: /srv/mirror/go/index.json
    mirror: https://mirror.example.com/go/
'''

RETURN = r'''
version:
  description: The resolved version, without the C(go) prefix.
  returned: always
  type: str
  sample: 1.27.3
name:
  description: The release name as the index spells it.
  returned: always
  type: str
  sample: go1.27.3
stable:
  description: Whether the index marks the release stable.
  returned: always
  type: bool
files:
  description: Per architecture, the archive's file name, sha256, size and download URL.
  returned: always
  type: dict
  sample:
    amd64:
      filename: go1.27.3.linux-amd64.tar.gz
      sha256: 0000000000000000000000000000000000000000000000000000000000000000
      size: 75000000
      url: https://go.dev/dl/go1.27.3.linux-amd64.tar.gz
'''
