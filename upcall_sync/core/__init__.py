"""The pure core: the planner and its values. No I/O at all.

`model` (desired and live state), `normalize` (values as the API compares them),
`changes` (one class per kind of change, and the `Plan` value), `matching` (which live
object each manifest entry is), `notices` (what a plan says it cannot or will not do)
and `planner` (`plan(desired, live) -> Plan`).
"""
