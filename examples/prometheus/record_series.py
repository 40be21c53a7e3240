#!/usr/bin/env python3
"""record_series.py — the input of the alert rules' unit tests (alerts_test.yml), recorded from
real runs: starts `loopscope exporter` (root) and four Node.js apps on this machine (a saturated
loop, a healthy one, a saturated thread pool, a loop that blocks in Atomics.wait), scrapes the
exporter every 5 s for 150 s, and writes the series promtool's tests read, with each app's PID
replaced by a fixed one so that the tests' expectations do not change from one recording to the
next. Not part of `make test` (it takes three minutes); run it again when the metrics change:

    examples/prometheus/record_series.py build > examples/prometheus/alerts_test.yml

The test cases at the end (which alert fires for which app) are written here too, from what each
app is: the recording decides the values, not the verdicts.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

INTERVAL = 5      # seconds between scrapes
SCRAPES = 31      # 150 s
HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, '..', '..', 'tests', 'bpf', 'exporter_app.js')
BLOCKER = """
// a synchronous wait on the loop thread, 20 ms of every 50 (Atomics.wait: a futex sleep)
const ia = new Int32Array(new SharedArrayBuffer(4));
process.on('SIGTERM', () => process.exit(0));
setInterval(() => Atomics.wait(ia, 0, 0, 20), 50);
"""
# service, fixed pid, command
# (the tag in each command line: an argument the app ignores)
APPS = [
    ('saturated', '1001', ['node', APP, 'spin', '0.98', '{tag}', '200']),
    ('healthy', '1002', ['node', APP, 'spin', '0.1', '{tag}', '10']),
    ('pool', '1003', ['node', APP, 'pool', '8', '{tag}']),
    ('blocker', '1004', ['node', '-e', BLOCKER, '{tag}']),
]
# the families the rules read
WANT = re.compile(r'^(loopscope_event_loop_(busy|idle)_seconds_total|'
                  r'loopscope_event_loop_iterations_total|'
                  r'loopscope_event_loop_lag_seconds_bucket|'
                  r'loopscope_threadpool_queue_wait_seconds_bucket|'
                  r'loopscope_gc_pause_seconds_sum|loopscope_blocking_seconds_total|'
                  r'loopscope_process_resident_memory_bytes)\{(.*)\} (\S+)$')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else 'build'
    tag = 'lsc-series-%d' % os.getpid()
    port = free_port()
    exporter = subprocess.Popen([os.path.join(build, 'loopscope'), 'exporter', '--listen',
                                 '127.0.0.1:%d' % port, '--match', tag],
                                stderr=subprocess.DEVNULL)
    time.sleep(1)
    procs, pids = [], {}
    for service, fixed, cmd in APPS:
        env = dict(os.environ, LOOPSCOPE_SERVICE=service, UV_THREADPOOL_SIZE='2')
        p = subprocess.Popen([a.replace('{tag}', tag) for a in cmd], env=env,
                             stdout=subprocess.DEVNULL)
        procs.append(p)
        pids[str(p.pid)] = fixed
    time.sleep(8)  # attached, a few windows in
    series = {}
    try:
        for k in range(SCRAPES):
            body = urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port).read()
            for line in body.decode().splitlines():
                m = WANT.match(line)
                if not m:
                    continue
                labels = m.group(3)
                pid = re.search(r'pid="(\d+)"', labels).group(1)
                if pid not in pids:
                    continue
                labels = labels.replace('pid="%s"' % pid, 'pid="%s"' % pids[pid])
                key = '%s{%s,instance="host:9464",job="loopscope"}' % (m.group(1), labels)
                series.setdefault(key, [None] * SCRAPES)[k] = m.group(4)
            time.sleep(INTERVAL)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait()
        exporter.send_signal(signal.SIGTERM)
        exporter.wait()
    out = sys.stdout
    out.write('# Unit tests of loopscope-alerts.yml (promtool test rules), on series that\n'
              '# record_series.py recorded from real runs of four Node.js apps under\n'
              '# `loopscope exporter`, a scrape every %d s. Written by that script.\n' % INTERVAL)
    out.write('rule_files:\n  - loopscope-alerts.yml\nevaluation_interval: %ds\ntests:\n'
              '  - interval: %ds\n    input_series:\n' % (INTERVAL, INTERVAL))
    for key in sorted(series):
        values = ' '.join(v if v is not None else '_' for v in series[key])
        out.write("      - series: '%s'\n        values: '%s'\n" % (key, values))
    end = (SCRAPES - 1) * INTERVAL
    firing = 'ALERTS{alertstate="firing",alertname="%s"}'
    cases = [
        # the saturated loop, and only it
        (firing % 'EventLoopSaturated', ['1001']),
        # turns of 196 ms: one in a hundred is late by 100 ms or more, not half by 10 ms (a
        # setInterval's turn is followed by a short one)
        (firing % 'EventLoopDelayPeaks', ['1001']),
        (firing % 'EventLoopDelay', []),
        (firing % 'ThreadPoolSaturated', ['1003']),
        (firing % 'BlockingCalls', ['1004']),
    ]
    out.write('    promql_expr_test:\n')
    for expr, want in cases:
        out.write("      - expr: 'count by (pid) (%s)'\n        eval_time: %ds\n"
                  "        exp_samples:%s\n" % (expr, end, '' if want else ' []'))
        for pid in want:
            out.write("          - labels: '{pid=\"%s\"}'\n            value: 1\n" % pid)


if __name__ == '__main__':
    main()
