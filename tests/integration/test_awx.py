"""The project as AWX runs it: an execution environment and ansible-runner."""

import json
import subprocess

import ansible_runner
import yaml

from .conftest import MIRROR, ROOT, SITE_CACHE_VARS, VENV_BIN


def test_execution_environment_renders(tmp_path):
    context = tmp_path / 'context'
    proc = subprocess.run([str(VENV_BIN / 'ansible-builder'), 'create', '-f', str(ROOT / 'execution-environment.yml'),
                           '--context', str(context)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = context / '_build'
    assert yaml.safe_load((build / 'requirements.yml').read_text()) == yaml.safe_load(
        (ROOT / 'collections/requirements.yml').read_text())
    assert 'openssh-clients [platform:rpm]' in (build / 'bindep.txt').read_text()
    assert 'paramiko' in (build / 'requirements.txt').read_text()
    containerfile = next(p for p in (context / 'Containerfile', context / 'Dockerfile') if p.exists()).read_text()
    assert 'ansible-galaxy collection install' in containerfile or 'install-from-bindep' in containerfile


def test_site_runs_unchanged_under_ansible_runner(target, tmp_path):
    data = tmp_path / 'pdd'
    (data / 'env').mkdir(parents=True)
    (data / 'inventory').mkdir()
    (data / 'project').symlink_to(ROOT)
    (data / 'inventory' / 'hosts.yml').write_text(target.inventory.read_text())
    (data / 'env' / 'extravars').write_text(json.dumps({
        'go_toolchain_version': '1.27',
        'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': 'http://127.0.0.1:8080/',
        **SITE_CACHE_VARS,
    }))
    (data / 'env' / 'envvars').write_text(json.dumps({'PATH': '%s:/usr/local/bin:/usr/bin:/bin' % VENV_BIN}))
    run = ansible_runner.run(private_data_dir=str(data), playbook='site.yml', ident='job1', quiet=True)
    assert run.status == 'successful', run.stdout.read()
    assert run.rc == 0
    events = list(run.events)
    assert any(e['event'] == 'playbook_on_stats' for e in events)
    assert any(e['event'] == 'runner_on_ok' and e['event_data'].get('res', {}).get('changed') for e in events)
    artifacts = data / 'artifacts' / 'job1'
    assert (artifacts / 'status').read_text() == 'successful'
    assert (artifacts / 'rc').read_text() == '0'
    assert list((artifacts / 'job_events').glob('*.json'))
    assert target.sh('go version').startswith('go version go1.27')
