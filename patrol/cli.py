"""`patrol`: the single front door for operators, departments' admins and analysts."""

from __future__ import annotations

import typer

from patrol.commands import config_cmd

app = typer.Typer(
    name="patrol",
    help="综合飞一次 — plan, fly and watch city drone patrols; detect violations; alert the owning department.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
app.add_typer(config_cmd.app, name="config")
app.command("serve")(__import__("patrol.commands.serve_cmd", fromlist=["serve"]).serve)
app.command("detect")(__import__("patrol.commands.detect_cmd", fromlist=["detect"]).detect)
app.command("plan")(__import__("patrol.commands.plan_cmd", fromlist=["plan"]).plan)
__import__("patrol.commands.fly_cmd", fromlist=["register"]).register(app)
app.command("run")(__import__("patrol.commands.run_cmd", fromlist=["run"]).run)
app.command("demo")(__import__("patrol.commands.demo_cmd", fromlist=["demo"]).demo)

if __name__ == "__main__":
    app()
