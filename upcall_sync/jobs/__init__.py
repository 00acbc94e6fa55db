"""The jobs the commands run: plan and apply (`sync`, `apply`, `schedule`), saved plans
(`planfile`), the apply report (`report`), `doctor`, and `export` (with `export_yaml`)."""
