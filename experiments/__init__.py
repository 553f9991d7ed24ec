"""The stories: one module per story, each declaring `STORY = Story(...)` with everything
that is only that story's (its criteria and metric names, runner, figures, notebook
sections and parameters). `rediscluster_opt.lab.registry` finds them; CONTRIBUTING says
how to add one."""
