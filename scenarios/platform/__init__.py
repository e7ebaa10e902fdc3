"""The reference platform as its drills see it: what alertdrill itself does not know and a user's platform
would write for its own. Its API client and the users it serves (client.py), the customer traffic a drill
keeps running (traffic.py), its invariants (invariants.py: nothing lost, nothing applied twice), and what
steady means for it beyond healthy containers and readiness (checks.py, named in [tool.alertdrill]
steady_checks). The drills' engine reaches none of it; the scenarios do."""
