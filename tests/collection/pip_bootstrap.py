"""Stand-in for the pip bootstrap script ansible-test downloads for its sanity and units venvs.

ansible-test makes each test's virtual environment without pip, then runs a bootstrap script it
fetches from its own file server, which this machine cannot reach. tests/collection puts this file
where ansible-test caches that script, under a HOME of its own (.cache/ansible-test-home): it installs
the pip that ships with Python (ensurepip), then the packages ansible-test asked for, from the
package index pip is configured with.
"""

import subprocess
import sys


def main():
    # ansible-test passes pip options, the pinned packages, and --no-setuptools/--no-wheel (which
    # only get-pip understands: ensurepip installs neither here).
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    # In a process of its own: ensurepip turns off pip's configuration (the index, the certificates) in
    # the environment of the process that calls it.
    subprocess.run([sys.executable, '-m', 'ensurepip', '--upgrade'], check=True)
    subprocess.run([sys.executable, '-m', 'pip', 'install', *args], check=True)


if __name__ == '__main__':
    main()
