"""go_release: the action plugin, its one implementation (library/go_release.py holds its documentation)."""

import json
import threading
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from unittest import mock

import pytest

from ansible_collections.go_buildhost.buildhost.plugins.action.go_release import ActionModule

from .conftest import ModuleFail
from .test_go_version import INDEX


@pytest.fixture
def run_module():
    """run_module('go_release', args, check=False): the action plugin run as a task runs it, in-process."""
    def run(name, args, check=False):
        assert name == 'go_release'
        task = mock.MagicMock(args=dict(args), async_val=0, check_mode=check, action='go_release')
        connection = mock.MagicMock()
        connection._shell.tmpdir = None
        action = ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None,
                              shared_loader_obj=None)
        result = action.run(task_vars={})
        if result.get('failed'):
            raise ModuleFail(result)
        return result
    return run


@pytest.fixture
def index_file(tmp_path):
    path = tmp_path / 'index.json'
    path.write_text(json.dumps(INDEX))
    return path


def test_resolves_from_a_path_and_builds_urls(run_module, index_file):
    result = run_module('go_release', {'version': '1.27', 'index': str(index_file),
                                       'mirror': 'http://mirror.invalid/go', 'goarch': ['amd64', 'arm64']})
    assert result['changed'] is False
    assert result['version'] == '1.27.3'
    assert result['files']['arm64']['url'] == 'http://mirror.invalid/go/go1.27.3.linux-arm64.tar.gz'
    assert result['files']['amd64']['sha256'] == 'a' * 64


def test_resolves_from_file_url_in_check_mode(run_module, index_file):
    result = run_module('go_release', {'version': 'latest', 'index': 'file://%s' % index_file}, check=True)
    assert result['version'] == '1.27.3'
    assert result['files']['amd64']['url'] == 'https://go.dev/dl/go1.27.3.linux-amd64.tar.gz'


def test_resolves_over_http(run_module, index_file):
    handler = partial(SimpleHTTPRequestHandler, directory=str(index_file.parent))
    handler.log_message = lambda *a: None
    server = HTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = 'http://127.0.0.1:%d/index.json' % server.server_port
        assert run_module('go_release', {'version': '1.26', 'index': url})['version'] == '1.26.6'
    finally:
        server.shutdown()


def test_unreachable_index_names_the_variable(run_module):
    with pytest.raises(ModuleFail, match=r'Cannot read the Go release index http://127.0.0.1:9/x.*go_toolchain_release_index'):
        run_module('go_release', {'version': '1.27', 'index': 'http://127.0.0.1:9/x', 'timeout': 2})
    with pytest.raises(ModuleFail, match='Cannot read the Go release index /nonexistent/index.json'):
        run_module('go_release', {'version': '1.27', 'index': '/nonexistent/index.json'})


def test_malformed_index_names_the_variable(run_module, tmp_path):
    bad = tmp_path / 'index.json'
    bad.write_text('<html>not json</html>')
    with pytest.raises(ModuleFail, match=r'index .*index.json \(go_toolchain_release_index\) is not valid JSON'):
        run_module('go_release', {'version': '1.27', 'index': str(bad)})


def test_unknown_and_garbage_versions(run_module, index_file):
    with pytest.raises(ModuleFail, match=r"go_toolchain_version: version '1.30.1' is not in the release index"):
        run_module('go_release', {'version': '1.30.1', 'index': str(index_file)})
    with pytest.raises(ModuleFail, match=r"go_toolchain_version: '1.27.3-evil' is not a Go version"):
        run_module('go_release', {'version': '1.27.3-evil', 'index': str(index_file)})
