"""Progress bars: redrawn on a terminal, plain lines in a log file."""

import io

from drai.parallel import progress_map
from drai.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_plain_lines_not_carriage_returns():
    log = io.StringIO()
    with progress_bar(total=50, desc="cases", unit="case", file=log, mininterval=0, miniters=1) as bar:
        for _ in range(50):
            bar.update()
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert all(line.startswith("cases:") for line in lines)
    assert "50/50" in lines[-1]


def test_a_log_gets_a_line_per_interval_not_per_update():
    log = io.StringIO()
    with progress_bar(total=10_000, desc="steps", file=log) as bar:  # default interval: a minute
        for _ in range(10_000):
            bar.update()
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "0/10000" in lines[0] and "10000/10000" in lines[1]


def test_a_postfix_per_update_does_not_add_lines_to_a_log():
    # Training sets its losses as the postfix every step; in a log that must not mean a line per step.
    log = io.StringIO()
    with progress_bar(total=300, desc="DRAI", file=log) as bar:
        for step in range(300):
            bar.set_postfix(d_x=f"{step / 300:.3f}")
            bar.set_description("DRAI")
            bar.update()
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "300/300" in lines[-1] and "d_x=0.997" in lines[-1]


def test_a_terminal_gets_the_redrawn_bar():
    terminal = Terminal()
    with progress_bar(total=5, desc="steps", file=terminal, mininterval=0) as bar:
        for _ in range(5):
            bar.update()
    assert terminal.getvalue().count("\r") >= 5


def test_a_cleared_or_disabled_bar_writes_nothing_to_a_log():
    log = io.StringIO()
    with progress_bar(total=5, file=log, disable=True) as bar:
        bar.update(5)
    assert log.getvalue() == ""


def test_progress_map_writes_lines_to_a_log(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr("sys.stderr", log)
    assert list(progress_map(abs, [-1, -2, 3], desc="values")) == [1, 2, 3]
    assert "\r" not in log.getvalue() and "3/3" in log.getvalue().splitlines()[-1]
