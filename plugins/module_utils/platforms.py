# -*- coding: utf-8 -*-
# Copyright: go-buildhost contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platforms go-buildhost supports, and the refusal of every other host.

One table, SUPPORTED: the releases the tests run on (README.md, "Supported platforms"). Every role
checks the managed host against it before anything changes, through roles/common (a meta dependency
of each role) and the platform_errors filter (plugins/filter/platforms.py). The roles' meta/main.yml
platforms and the README list the same releases; tests/unit/test_platform_docs.py holds them equal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (distribution, version, codename), as Ansible's facts name them, in the order messages list them.
SUPPORTED = (
    ('Debian', '12', 'bookworm'),
    ('Debian', '13', 'trixie'),
    ('Ubuntu', '22.04', 'jammy'),
    ('Ubuntu', '24.04', 'noble'),
)

# The fact each distribution's version is matched on.
# Debian: the major version. Debian 12.x are all bookworm, and distribution_version carries the point
# release (12.7); testing and unstable have no number at all (n/a, trixie/sid), so they never match,
# even when their codename is that of the next release.
# Ubuntu: the whole version. 24.10 shares 24.04's major version but is another, short-lived release;
# an LTS point release (24.04.1) still reports VERSION_ID 24.04.
MATCHED_FACT = {
    'Debian': 'distribution_major_version',
    'Ubuntu': 'distribution_version',
}

# The facts the check reads; gather_subset min has them all.
REQUIRED_FACTS = ('distribution', 'distribution_version', 'distribution_major_version')

# What Ansible reports for a version it could not read.
_NO_VERSION = ('', 'NA', 'N/A', 'n/a')


def supported_list():
    """The supported releases in a sentence: 'Debian 12, 13 and Ubuntu 22.04, 24.04'."""
    versions = {}
    for distribution, version, _codename in SUPPORTED:
        versions.setdefault(distribution, []).append(version)
    return ' and '.join('%s %s' % (name, ', '.join(numbers)) for name, numbers in versions.items())


def galaxy_platforms():
    """The roles' meta/main.yml galaxy_info.platforms for SUPPORTED, codenames in the table's order."""
    platforms = {}
    for distribution, _version, codename in SUPPORTED:
        platforms.setdefault(distribution, []).append(codename)
    return [{'name': name, 'versions': codenames} for name, codenames in platforms.items()]


def _text(value):
    return '' if value is None else str(value).strip()


def is_supported(facts):
    """True when facts (ansible_facts) name one of the SUPPORTED releases."""
    distribution = _text(facts.get('distribution'))
    fact = MATCHED_FACT.get(distribution)
    if not fact:
        return False
    value = _text(facts.get(fact))
    return any(name == distribution and (value == version or value.startswith(version + '.'))
               for name, version, _codename in SUPPORTED)


def describe(facts):
    """The host's platform as a message names it: 'Rocky 9.3', 'Debian trixie/sid (testing or unstable, ...)'."""
    distribution = _text(facts.get('distribution'))
    version = _text(facts.get('distribution_version'))
    release = _text(facts.get('distribution_release'))
    if version in _NO_VERSION:
        version = release if release not in _NO_VERSION else 'of unknown version'
    name = '%s %s' % (distribution, version)
    major = _text(facts.get('distribution_major_version'))
    if distribution == 'Debian' and not major.isdigit():
        name += ' (testing or unstable, which have no release number)'
    return name


def platform_errors(facts):
    """Messages for a host outside SUPPORTED, given its facts (ansible_facts); empty when it is supported.

    Facts that were not gathered (gather_facts: false, or a play that never ran setup) give a message
    that says so, rather than a refusal of a platform nobody knows.
    """
    facts = dict(facts or {})
    supported = supported_list()
    missing = [name for name in REQUIRED_FACTS if _text(facts.get(name)) == '']
    if missing:
        return ['The host\'s platform is unknown: its facts were not gathered (no ansible_facts.%s). go-buildhost '
                'supports %s and checks the platform before it changes anything: gather facts first '
                '(gather_facts: true in the play, or ansible.builtin.setup with gather_subset: [min]).'
                % (', ansible_facts.'.join(missing), supported)]
    if is_supported(facts):
        return []
    return ['%s is not a supported platform: go-buildhost supports %s, the releases its tests run on. Run it on '
            'one of those, or leave this host out of the play (the go_buildhosts group of site.yml); go-buildhost '
            'changed nothing on it.' % (describe(facts), supported)]


def platform_vars_files(facts):
    """The vars files of a role's platform values, in the order they load, each over the one before (the way
    linux-system-roles load them): the OS family's, the distribution's, its major version's, its exact
    version's. A role has only some of them."""
    missing = [name for name in ('os_family', 'distribution', 'distribution_major_version', 'distribution_version')
               if not _text(facts.get(name))]
    if missing:
        raise ValueError('the platform values need the facts %s: gather them (the min subset has them)'
                         % ', '.join('ansible_facts.%s' % name for name in missing))
    distribution = _text(facts['distribution'])
    return ['%s.yml' % _text(facts['os_family']), '%s.yml' % distribution,
            '%s_%s.yml' % (distribution, _text(facts['distribution_major_version'])),
            '%s_%s.yml' % (distribution, _text(facts['distribution_version']))]


# The options of the platform_check action (plugins/action/platform_check.py); each role's role_check runs the
# same check.
CHECK_ARGUMENT_SPEC = {'gather_subset': {'type': 'list', 'elements': 'str', 'default': ['min']}}
