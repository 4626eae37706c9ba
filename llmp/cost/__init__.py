"""Plan-time monthly cost estimate: a pricing table with dates and sources, a pure estimate, rendering.

- `pricing`: the table (`pricing/<cloud>-<date>.yaml`), every price with its source and date.
- `layout`: what the config makes GKE bill for (pools, node counts, disks, volumes).
- `estimate`: the itemised idle and busy monthly totals; `assumptions`: busy hours, free tier.
- `render`: the table `llmp plan` prints and `build/<stack>/cost.json`. See docs/cost.md.
"""
