"""The platform's controls: one folder per control (`render.py`: pure builders; `predicates.py`: checks on
rendered objects), the tier plan (`tiers`) and the one list that ties them together (`registry`)."""
