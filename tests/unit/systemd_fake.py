"""A stand-in for systemctl, plugged into AnsibleModule.run_command by the cgroup module tests."""

import fnmatch
import time

from ansible.module_utils import basic


class FakeSystemd:
    """Units as dicts of systemctl show properties; records every command it is given."""

    def __init__(self, root='/'):
        self.root = root.rstrip('/')
        self.units = {}
        self.calls = []
        self.fail = {}  # verb -> (rc, stderr)

    def add(self, unit, active=True, cgroup=None, started=None, *, slice_name=None, names=(), file_state='enabled'):
        self.units[unit] = {
            'Id': unit, 'Names': ' '.join((unit,) + tuple(names)), 'LoadState': 'loaded', 'UnitFileState': file_state,
            'ActiveState': 'active' if active else 'inactive',
            'ControlGroup': (cgroup if cgroup is not None else '%s/system.slice/%s' % (self.root, unit)) if active
            else '',
            'Slice': slice_name or 'system.slice',
            'ActiveEnterTimestampMonotonic': str(started if started is not None else
                                                 int(time.monotonic() * 1e6) - 3600 * 1000000) if active else '0',
        }

    def show(self, properties, names):
        blocks = []
        for asked in names:
            # systemctl shows a bare name as a service
            name = asked if '.' in asked.rsplit('@', 1)[-1] or any(c in asked for c in '*?[') else asked + '.service'
            if any(c in name for c in '*?['):
                matches = [u for u in sorted(self.units) if fnmatch.fnmatchcase(u, name)]
            else:
                matches = [u for u in self.units if name in self.units[u]['Names'].split()] or [None]
            for unit in matches:
                data = self.units.get(unit) or {'Id': name, 'Names': name, 'LoadState': 'not-found',
                                                'UnitFileState': '', 'ActiveState': 'inactive', 'ControlGroup': '',
                                                'Slice': '', 'ActiveEnterTimestampMonotonic': '0'}
                blocks.append('\n'.join('%s=%s' % (p, data.get(p, '')) for p in properties))
        return '\n\n'.join(blocks) + '\n'

    def __call__(self, args, **kwargs):
        args = list(args)
        self.calls.append(args[1:])
        verb = args[1]
        if verb in self.fail:
            rc, err = self.fail[verb]
            return rc, '', err
        if verb == 'show':
            properties = args[2].split('=', 1)[1].split(',')
            return 0, self.show(properties, args[args.index('--') + 1:]), ''
        if verb == 'try-restart':
            for unit in args[args.index('--') + 1:]:
                self.units[unit]['ActiveEnterTimestampMonotonic'] = str(int(time.monotonic() * 1e6))
                self.units[unit]['restarted'] = True
            return 0, '', ''
        effects = {'enable': ('UnitFileState', 'enabled'), 'disable': ('UnitFileState', 'disabled'),
                   'start': ('ActiveState', 'active'), 'restart': ('ActiveState', 'active'),
                   'stop': ('ActiveState', 'inactive')}
        if verb in effects and '--' in args:
            key, value = effects[verb]
            for unit in args[args.index('--') + 1:]:
                if unit not in self.units:
                    return 5, '', 'Unit %s not found.' % unit
                self.units[unit][key] = value
        return 0, '', ''

    def verbs(self):
        return [c[0] for c in self.calls]


def install(monkeypatch, root='/'):
    """Route AnsibleModule.run_command and get_bin_path to a new FakeSystemd and return it."""
    fake = FakeSystemd(root)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, args, **kwargs: fake(args, **kwargs))
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path',
                        lambda self, name, required=False, opt_dirs=None: '/usr/bin/' + name)
    return fake
