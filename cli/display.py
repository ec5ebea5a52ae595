"""What the CLI prints: live progress of the states, the Streamkap form, plans and errors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from cli.form import FORM_TITLE, form_lines

console = Console(highlight=False, emoji=False, soft_wrap=True)  # ARNs hold ":secret:"

FAILURES = ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed")
RECOVERIES = ("TaskSucceeded", "LambdaFunctionSucceeded")


@dataclass
class StateRow:
    name: str
    runs: int = 0
    running: bool = False
    seconds: float = 0.0
    error: str | None = None
    entered_at: float = 0.0


@dataclass
class Progress:
    """State rows from history events; a state entered again (the reboot loop) counts its runs."""

    rows: dict[str, StateRow] = field(default_factory=dict)
    current: str | None = None

    def add(self, event: dict[str, Any]) -> StateRow | None:
        """Apply one event; returns the row a state just left (or failed in)."""
        kind, at = event["type"], event["timestamp"].timestamp()
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            row = self.rows.setdefault(name, StateRow(name))
            row.runs, row.running, row.entered_at, self.current = row.runs + 1, True, at, name
        elif kind.endswith("StateExited"):
            row = self.rows[event["stateExitedEventDetails"]["name"]]
            row.running, row.seconds = False, row.seconds + at - row.entered_at
            return None if row.error else row  # a caught failure exits its state too: shown once, when it failed
        elif kind in RECOVERIES and self.current:  # a retried attempt that succeeded: the state did not fail
            self.rows[self.current].error = None
        elif kind in FAILURES and self.current and not self.rows[self.current].error:  # one per failure
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            row = self.rows[self.current]
            row.running, row.error = False, details.get("error", kind)
            return row
        return None

    def table(self) -> Table:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("state")
        table.add_column("", justify="left")
        table.add_column("time", justify="right")
        for row in self.rows.values():
            mark = f"[red]✗ {escape(row.error)}[/]" if row.error else ("[yellow]…[/]" if row.running else "[green]✓[/]")
            runs = f" x{row.runs}" if row.runs > 1 else ""
            table.add_row(row.name + runs, mark, f"{row.seconds * 1000:.0f} ms" if not row.running else "")
        return table


def show_progress(events: Iterable[dict[str, Any]]) -> Progress:
    """A live table on a terminal; one line per finished state otherwise (logs, CI)."""
    progress = Progress()
    if console.is_terminal:
        with Live(progress.table(), console=console, refresh_per_second=8) as live:
            for event in events:
                progress.add(event)
                live.update(progress.table())
    else:
        for event in events:
            row = progress.add(event)
            if row and row.error:
                console.print(f"  ✗ {row.name:<28} {escape(row.error)}")
            elif row:
                console.print(f"  ✓ {row.name:<28} {row.seconds * 1000:6.0f} ms")
    return progress


def connector_form(connector: dict[str, Any]) -> None:
    """Plain aligned lines, never truncated: each value is pasted into the form as is."""
    console.print(f"[bold]{FORM_TITLE}[/]")
    for line in form_lines(connector):
        console.print(escape(line))


def bullet_list(title: str, items: list[str]) -> None:
    console.print(f"\n[bold]{title}[/]" + ("" if items else " none"))
    for item in items:
        console.print(f"  - {escape(item)}")


def error(name: str, message: str) -> None:
    console.print(f"[bold red]{escape(name)}[/]: {escape(message)}")
