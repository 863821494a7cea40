"""Workshops (issue 14): a facilitator's session that residents join by a short code, adding
resources and cooperations from tablets with a contributor token scoped to the workshop, and
voting one person, one vote.

- `sessions`: create, find by code, join (a pseudonym → a token), close;
- `votes`: the facilitator's questions, the participants' votes, the tally (without names);
- `feed`: what the workshop added, as each principal may see it (the live map), its counters,
  the moderation queue with pseudonyms and the end summary.

Who may do what is carto.permissions' (`facilitate`, `vote`, and `require`, which refuses a
workshop token once its workshop is closed or ended); who sees what, carto.visibility's."""
