"""Routing's use cases, one module per message family: MQLs (`mqls`, with what a batch reads
once in `batch`), sales' verdicts and erasures (`verdicts`), and the periodic jobs on capacity
(`capacity`) and the queue (`queue`). The table of handlers and jobs is in `app.py`. None
commits; the consumer runner and the job runner do, at the edge."""
