"""`make bench`: the integration measured against the physical limit of a Captain Data plan.

A user pays per result and is capped in requests per second (R) and in calls per LinkedIn account
(one at a time, L seconds each, A accounts), so the best possible run time for N inputs is known in
advance: `max(N / R, N * L / A)` (`N / R + L` for actions without an account). Each scenario runs
against the bundled simulator started in its own process and reports figures as ratios measured in
one run; `python -m bench --help` lists the scenarios and the overrides.
"""
