"""Issue 14, AWX: the job template's playbook under ansible-runner (AWX's engine), with extra vars
built from awx/survey.json the way AWX builds them (every question's default included).

- A launch that leaves every question alone lets the inventory decide: an inventory that sets
  go_toolchain_download_on_controller: true downloads on the controller, and the host downloads
  nothing.
- Answered questions win over the inventory, booleans answered as "true"/"false" included.
- The nightly audit's drift report is in the job's artifacts (set_stats, the playbook_on_stats
  event's artifact_data), also when fail_on_drift fails the job.

The archives are served over HTTP at the same loopback URL on the controller and on the target,
each side by its own server with its own access log, so the logs tell who downloaded what.
The tests run in file order and share one container.
"""

import json
import socket
import subprocess
import sys

import ansible_runner
import pytest

from ..unit.test_awx_survey import awx_launch_vars
from .conftest import MIRROR, ROOT, SITE_CACHE_VARS, VENV_BIN

PLAYBOOK = 'awx/site.yml'  # the job template's (awx/configure.yml)
INSTALL_ROOT = '/usr/local/lib/go'
OUTCOMES = ('runner_on_ok', 'runner_on_failed', 'runner_on_skipped', 'runner_on_unreachable')


@pytest.fixture(scope='module')
def versions(releases):
    ordered = sorted(releases, key=lambda v: tuple(int(p) for p in v.split('.')))
    assert len(ordered) >= 2, 'the mirror fixture needs two versions'
    return ordered[-2], ordered[-1]


@pytest.fixture(scope='module')
def mirror(target, tmp_path_factory):
    """http://127.0.0.1:<port>/ serving the Go mirror fixture on the controller and on the target."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp('mirror') / 'controller-access.log'
    with log.open('w') as handle:
        server = subprocess.Popen([sys.executable, '-m', 'http.server', '--bind', '127.0.0.1', '--directory',
                                   str(MIRROR), str(port)], stdout=subprocess.DEVNULL, stderr=handle)
    target.sh('systemd-run --unit=go-mirror-awx -p StandardError=file:/var/log/go-mirror-awx.log python3 -m '
              'http.server --bind 127.0.0.1 --directory /srv/go-mirror %d' % port)
    target.sh('for i in $(seq 50); do python3 -c "import urllib.request; urllib.request.urlopen('
              "'http://127.0.0.1:%d/index.json')\" 2>/dev/null && exit 0; sleep 0.2; done; exit 1" % port)
    try:
        yield {'url': 'http://127.0.0.1:%d/' % port, 'controller_log': log}
    finally:
        server.terminate()
        server.wait(timeout=10)
        target.sh('systemctl stop go-mirror-awx', check=False)


def downloads(log_text, filename):
    return sum(1 for line in log_text.splitlines() if '"GET /%s ' % filename in line)


def controller_downloads(mirror, filename):
    return downloads(mirror['controller_log'].read_text(), filename)


def host_downloads(target, filename):
    return downloads(target.sh('cat /var/log/go-mirror-awx.log'), filename)


@pytest.fixture(scope='module')
def job(target, mirror, versions, tmp_path_factory):
    """Launch the job template: an AWX-like private_data_dir whose inventory carries everything but the
    survey's answers, as an AWX inventory would. Returns launch(extravars, ...) -> (run, private_data_dir)."""
    old, _new = versions
    workdir = tmp_path_factory.mktemp('awx-job')
    inventory = json.loads(target.inventory.read_text())
    inventory['all']['children']['go_buildhosts']['vars'] = {
        'go_toolchain_version': old,
        'go_toolchain_release_index': str(MIRROR / 'index.json'),
        'go_toolchain_mirror': mirror['url'],
        # The air-gapped fleet's setting that an untouched survey must not override.
        'go_toolchain_download_on_controller': True,
        'go_toolchain_controller_cache': str(workdir / 'controller-cache'),
        **SITE_CACHE_VARS,
    }
    counter = iter(range(1, 100))

    def launch(extravars, tags=None, check=False):
        data = workdir / ('pdd%d' % next(counter))
        (data / 'env').mkdir(parents=True)
        (data / 'inventory').mkdir()
        (data / 'project').symlink_to(ROOT)
        (data / 'inventory' / 'hosts.yml').write_text(json.dumps(inventory))
        (data / 'env' / 'extravars').write_text(json.dumps(extravars))
        (data / 'env' / 'envvars').write_text(json.dumps({
            'PATH': '%s:/usr/local/bin:/usr/bin:/bin' % VENV_BIN,
            # .cache/audit of the project would be the execution environment's, gone with the job.
            'GO_BUILDHOST_AUDIT_DIR': str(data / 'audit'),
        }))
        # The job template runs with diff mode on; a check job adds --check (awx/configure.yml).
        cmdline = '--diff --check' if check else '--diff'
        run = ansible_runner.run(private_data_dir=str(data), playbook=PLAYBOOK, ident='job', quiet=True,
                                 tags=tags, cmdline=cmdline)
        return run, data

    launch.workdir = workdir
    return launch


def task_events(run, name_prefix, host):
    return [e for e in run.events if e['event'] in OUTCOMES
            and e['event_data'].get('host') == host
            and e['event_data'].get('task', '').startswith(name_prefix)]


def outcome(run, name_prefix, host):
    """The runner_on_* event name of a task on a host ('runner_on_ok', 'runner_on_skipped', ...), or None."""
    found = task_events(run, name_prefix, host)
    assert len(found) <= 1, [e['event'] for e in found]
    return found[0]['event'] if found else None


def changed(run, name_prefix, host):
    found = task_events(run, name_prefix, host)
    return bool(found) and found[0]['event'] == 'runner_on_ok' and bool(found[0]['event_data']['res'].get('changed'))


def artifact_data(run):
    stats = [e for e in run.events if e['event'] == 'playbook_on_stats']
    assert len(stats) == 1
    return stats[0]['event_data']['artifact_data']


def test_untouched_survey_lets_the_inventory_download_on_the_controller(target, job, mirror, versions, releases):
    old, _new = versions
    filename, _sha = releases[old]
    launch_vars = awx_launch_vars({})
    assert launch_vars and set(launch_vars.values()) == {''}, launch_vars
    run, _data = job(launch_vars)
    assert run.status == 'successful', run.stdout.read()
    host = target.name
    # The inventory's version and controller download: the archive came from the controller's
    # download, and the host fetched nothing itself.
    assert changed(run, 'Download each needed archive once into the controller cache', 'localhost') or changed(
        run, 'Download each needed archive once into the controller cache', host)
    assert changed(run, 'Copy the Go archive to the host', host)
    assert sorted(p.name for p in (job.workdir / 'controller-cache').iterdir()) == [filename]
    assert controller_downloads(mirror, filename) == 1
    assert host_downloads(target, filename) == 0
    install = task_events(run, 'Ensure the active Go toolchain is', host)
    assert install and install[0]['event_data']['res']['changed'], install
    assert target.sh('go version') == 'go version go%s linux/amd64' % old
    # The untouched questions reached no role: the survey play set no fact on any host.
    answered = task_events(run, 'Ensure each answered survey question sets its variable', host)
    assert [e['event'] for e in answered] == ['runner_on_skipped'], answered
    assert artifact_data(run) == {}


def test_null_answers_of_older_awx_leave_the_inventory_in_charge(target, job, mirror, versions, releases):
    old, _new = versions
    filename, _sha = releases[old]
    before = controller_downloads(mirror, filename), host_downloads(target, filename)
    run, _data = job(awx_launch_vars({}, unanswered=None), tags='go_toolchain')
    assert run.status == 'successful', run.stdout.read()
    assert target.sh('go version') == 'go version go%s linux/amd64' % old
    assert (controller_downloads(mirror, filename), host_downloads(target, filename)) == before
    assert run.stats['changed'].get(target.name, 0) == 0, run.stats


def test_answered_questions_win_over_the_inventory(target, job, mirror, versions, releases):
    old, new = versions
    filename, _sha = releases[new]
    answers = {'survey_go_toolchain_version': new, 'survey_go_toolchain_download_on_controller': 'false',
               'survey_go_toolchain_keep_versions': 1}
    run, _data = job(awx_launch_vars(answers), tags='go_toolchain')
    assert run.status == 'successful', run.stdout.read()
    host = target.name
    # "false" arrived as a boolean false: the host downloaded the archive itself.
    assert host_downloads(target, filename) == 1
    assert controller_downloads(mirror, filename) == 0
    assert filename not in [p.name for p in (job.workdir / 'controller-cache').iterdir()]
    assert outcome(run, 'Check whether the host must install Go', host) in (None, 'runner_on_skipped')
    assert not changed(run, 'Copy the Go archive to the host', host)
    assert target.sh('go version') == 'go version go%s linux/amd64' % new
    # keep_versions 1 over the role's default of 2: the inventory's version is gone.
    installed = [name for name in target.sh('ls %s' % INSTALL_ROOT).split() if name[0].isdigit()]
    assert installed == [new]
    assert old != new


def test_nightly_audit_keeps_the_drift_report_in_the_job_artifacts(target, job, versions):
    old, new = versions
    host = target.name
    # The schedule's launch (awx/configure.yml): a check job with tag audit, fail_on_drift answered "false".
    run, data = job(awx_launch_vars({'survey_fail_on_drift': 'false'}), tags='audit', check=True)
    assert run.status == 'successful', run.stdout.read()
    report = artifact_data(run)['go_buildhost_drift']
    # The same report the drift_report callback wrote, which stays behind in the execution environment.
    written = json.loads((data / 'audit' / 'drift.json').read_text())
    assert report == written
    # The host runs the last test's answer, not the inventory's version: go_toolchain drifted.
    assert report['drifted_hosts'] == [host]
    assert report['hosts'][host]['go_toolchain']['drift_items'] >= 1
    assert set(report['hosts'][host]) >= {'go_toolchain', 'go_env', 'sysctl_tuning', 'build_cgroups', 'go_cache'}
    assert target.sh('go version') == 'go version go%s linux/amd64' % new, 'the audit must not repair'
    assert old != new
    # ansible-runner keeps the stats event, artifact_data included, in the job's artifacts.
    stored = [json.loads(p.read_text()) for p in (data / 'artifacts' / 'job' / 'job_events').glob('*.json')]
    stored_stats = [e for e in stored if e['event'] == 'playbook_on_stats']
    assert [e['event_data']['artifact_data']['go_buildhost_drift'] for e in stored_stats] == [written]


def test_failed_audit_job_still_carries_the_drift_report(target, job):
    host = target.name
    run, data = job(awx_launch_vars({'survey_fail_on_drift': 'true'}), tags='audit', check=True)
    assert run.status == 'failed'
    assert run.stats['failures'] == {'localhost': 1}, run.stats
    failure = task_events(run, 'Fail when a host drifted and fail_on_drift is set', 'localhost')
    assert [e['event'] for e in failure] == ['runner_on_failed']
    assert 'Drift on %s' % host in failure[0]['event_data']['res']['msg']
    report = artifact_data(run)['go_buildhost_drift']
    assert report == json.loads((data / 'audit' / 'drift.json').read_text())
    assert report['drifted_hosts'] == [host]
