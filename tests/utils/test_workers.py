"""run_workers under a small open-file limit (hostile-input sweep 8a): every job was forked at once,
each holding descriptors in the parent, so asrkit-compute-fbank --nj 600 under the usual limit of
1024 failed part-way with an OSError traceback, 'Too many open files'."""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    from asrkit.utils.errors import AsrkitError
    from asrkit.utils.workers import run_workers

    def square(i):
        return i * i

    def fail(i):
        if i == 7:
            raise AsrkitError("job seven failed")
        return i

    assert run_workers(square, [(i,) for i in range(120)]) == [i * i for i in range(120)]
    try:
        run_workers(fail, [(i,) for i in range(40)])
    except AsrkitError as e:
        assert str(e) == "job seven failed"
    else:
        raise SystemExit("no error")
    print("open descriptors after:", len(os.listdir("/proc/self/fd")))
""")


def test_jobs_beyond_the_open_file_limit_run_in_turn():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # nothing held after the calls: each finished worker's pipes were closed
    assert int(proc.stdout.split(":")[1]) < 20, proc.stdout
