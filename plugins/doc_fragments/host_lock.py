# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of every module that takes the host-wide lock (module_utils/host_lock.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  lock_timeout:
    description:
      - Seconds to wait for the host-wide go-buildhost lock held by an overlapping run
        (C(go_buildhost_lock_timeout)); the module fails naming the holder after that.
    type: int
    default: 300
  lock_path:
    description: The lock file, under /run so that it never outlives a boot.
    type: path
    default: /run/go-buildhost.lock
'''
