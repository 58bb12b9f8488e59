"""A progress bar with an ETA on stderr; plain lines at every tenth of the work when not a terminal."""
import sys
import time

BAR_WIDTH = 30


def _clock(seconds):
    seconds = int(max(seconds, 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total, stream=sys.stderr, clock=time.monotonic):
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
        self._last_decile = -1

    def eta_seconds(self):
        if not self.done:
            return None
        elapsed = self.clock() - self.started
        return elapsed / self.done * (self.total - self.done)

    def line(self, label):
        filled = BAR_WIDTH * self.done // self.total
        eta = self.eta_seconds()
        return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} "
                f"{100 * self.done // self.total:3d}% elapsed {_clock(self.clock() - self.started)} "
                f"ETA {'?' if eta is None else _clock(eta)}  {label}")

    def running(self, label):
        """On a terminal, show what runs now (the bar otherwise updates only when a job ends)."""
        if self.interactive:
            self.stream.write("\r\033[K" + self.line(f"running {label}"))
            self.stream.flush()

    def step(self, label):
        """Mark one unit of work done; `label` names what was just finished."""
        self.done = min(self.done + 1, self.total)
        if self.interactive:
            self.stream.write("\r\033[K" + self.line(label))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            decile = 10 * self.done // self.total
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(self.line(label) + "\n")
        self.stream.flush()

    def message(self, text):
        """Print a line (e.g. a failed run) without breaking the bar."""
        self.stream.write(("\r\033[K" if self.interactive else "") + text + "\n")
        self.stream.flush()
