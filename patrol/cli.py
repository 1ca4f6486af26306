"""`patrol`: the single front door for operators, departments' admins and analysts."""

from __future__ import annotations

import typer

from patrol.commands import (config_cmd, dataset_cmd, demo_cmd, detect_cmd, eval_cmd, fly_cmd, models_cmd, plan_cmd, run_cmd,
                             serve_cmd, train_cmd)
from patrol.commands import ops_cmd, task_cmd

app = typer.Typer(
    name="patrol",
    help="综合飞一次 — plan, fly and watch city drone patrols; detect violations; alert the owning department.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(dataset_cmd.app, name="dataset")
app.add_typer(models_cmd.app, name="models")
app.command("plan")(plan_cmd.plan)
fly_cmd.register(app)
app.command("detect")(detect_cmd.detect)
app.command("serve")(serve_cmd.serve)
app.command("run")(run_cmd.run)
app.command("demo")(demo_cmd.demo)
app.command("eval")(eval_cmd.eval_command)
app.command("ops")(ops_cmd.ops)
app.add_typer(task_cmd.app, name="task")
app.command("train")(train_cmd.train)

if __name__ == "__main__":
    app()
