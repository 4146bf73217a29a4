"""The GIL is released while the library computes; abort, KeyboardInterrupt and parallel sessions."""
import _thread
import threading
import time

import pytest

import ophtha

PROMPT = "The fundus photograph shows"
LONG = dict(max_tokens=220, temperature=0, ignore_eos=True)


class Counter(threading.Thread):
    """Counts in pure Python until stopped: it only advances while it holds the GIL."""

    def __init__(self):
        super().__init__(daemon=True)
        self.count = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.count += 1


def test_a_python_thread_makes_progress_while_generate_runs(long_context_model):
    model = long_context_model
    model.generate(PROMPT, max_tokens=10)  # warm up
    counter = Counter()
    counter.start()
    try:
        before, start = counter.count, time.perf_counter()
        time.sleep(0.1)
        free_rate = (counter.count - before) / (time.perf_counter() - start)  # counts per second, GIL free
        before, start = counter.count, time.perf_counter()
        model.generate(PROMPT, max_tokens=2000, temperature=0, ignore_eos=True)
        elapsed = time.perf_counter() - start
        during = counter.count - before
    finally:
        counter.stop.set()
        counter.join()
    # Were the GIL held during the call, the counter could only run in a switch interval (5 ms)
    # before it; released, it runs throughout. Generating takes well over 40 switch intervals.
    assert elapsed > 0.2, f"generate took only {elapsed:.3f} s; make it longer for this test to mean something"
    share = during / (free_rate * elapsed)
    assert share > 0.25, (f"the counter ran {share:.0%} of its free rate during a {elapsed:.3f} s generate "
                          f"({during} counts, {free_rate:.0f}/s when free)")


def test_should_abort_raises_aborted_and_the_session_stays_usable(model):
    calls = []
    with pytest.raises(ophtha.AbortedError) as raised:
        model.generate(PROMPT, should_abort=lambda: calls.append(1) or True, **LONG)
    assert calls, "should_abort was never called"
    assert raised.value.status == ophtha.AbortedError.STATUS
    assert model.generate(PROMPT, max_tokens=5, temperature=0) == model.generate(PROMPT, max_tokens=5, temperature=0)


def test_abort_from_another_thread_through_an_event(model):
    first_piece = threading.Event()
    abort = threading.Event()
    threading.Thread(target=lambda: first_piece.wait(10) and abort.set(), daemon=True).start()
    pieces = []
    with pytest.raises(ophtha.AbortedError):
        model.generate(PROMPT, max_tokens=250, temperature=0, ignore_eos=True, poll_interval=0,
                       on_text=lambda p: pieces.append(p) or first_piece.set() or time.sleep(0.002),
                       should_abort=abort.is_set)
    assert 0 < len(pieces) < 250


def test_an_exception_in_should_abort_is_raised_as_is(model):
    def fail():
        raise LookupError("from should_abort")
    with pytest.raises(LookupError, match="from should_abort"):
        model.generate(PROMPT, should_abort=fail, **LONG)


def test_an_exception_in_on_text_is_raised_as_is(model):
    def fail(piece):
        raise RuntimeError(f"from on_text: {piece!r}")
    with pytest.raises(RuntimeError, match="from on_text"):
        model.generate(PROMPT, on_text=fail, **LONG)


def test_keyboard_interrupt_stops_generate_in_the_main_thread(model):
    assert threading.current_thread() is threading.main_thread()
    polls = []

    def should_abort():
        polls.append(1)
        if len(polls) == 3:  # generation is running: Ctrl-C arrives 10 ms later, mostly while in C
            threading.Timer(0.01, _thread.interrupt_main).start()
        if len(polls) > 3:
            time.sleep(0.001)  # keep the generation going long enough whatever the machine's load
        return False

    with pytest.raises(KeyboardInterrupt):
        model.generate(PROMPT, should_abort=should_abort, poll_interval=0, **LONG)
    # An uninterrupted run polls about (layers + 1) x 220 = 660 times.
    assert len(polls) < 400, f"generation went on for {len(polls)} polls after the interrupt"


def test_keyboard_interrupt_while_reading_a_stream_stops_its_worker(long_context_model):
    stream = long_context_model.generate(PROMPT, max_tokens=2000, temperature=0, ignore_eos=True, stream=True)
    pieces = [next(stream)]
    threading.Timer(0.01, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        with stream:  # leaving the block, also by an exception, stops the worker
            for piece in stream:
                pieces.append(piece)
                time.sleep(0.001)  # a slow reader: the interrupt arrives while the stream is being read
    assert not any(t.name == "ophtha-generate" for t in threading.enumerate()), "the worker is still running"
    assert stream.result is None and len(pieces) < 1900


def test_sessions_on_two_threads_give_what_they_give_alone(model):
    options = [dict(max_tokens=60, temperature=0.8, seed=s, ignore_eos=True) for s in (1, 2)]
    alone = [model.generate(PROMPT, **o) for o in options]
    results = [None, None]

    def run(i):
        with model.session(n_threads=1) as session:
            results[i] = session.generate(PROMPT, **options[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == alone
    assert results[0] != results[1]


def test_closing_a_model_keeps_its_sessions_working(model_path):
    m = ophtha.Model(model_path)
    session = m.session(n_threads=1)
    expected = session.generate(PROMPT, max_tokens=10, temperature=0)
    m.close()
    assert m.closed
    assert session.generate(PROMPT, max_tokens=10, temperature=0) == expected
    with pytest.raises(ophtha.InvalidArgumentError, match="closed"):
        m.tokenize("x")
    with pytest.raises(ophtha.InvalidArgumentError, match="closed"):
        m.generate("x")
    session.close()
    m.close()  # idempotent
