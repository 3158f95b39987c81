"""Ansible's collection loader, as ansible-test units and ansible-playbook install it, before anything
in tests.unit imports the collection: the roles' vars then find the collection's plugins by FQCN
(role_vars.py). It is installed here, not in conftest.py, because modules outside tests/unit import
from it (tests/integration/test_issue14_awx.py), and pytest collects them first: a plain import of
ansible_collections.* before the loader leaves every later import of the collection broken.
"""

from pathlib import Path

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

_AnsibleCollectionFinder(paths=[str(Path(__file__).resolve().parents[2] / 'collections')])._install()
