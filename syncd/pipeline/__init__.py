"""The stage drivers: each runs the pure and stateful stages in order for one command.

``plan`` reads the exports and the state database and makes every connection's plan (the
one planning path); ``reconcile`` plans through it, then enqueues and drains;
``connection`` is what every stage needs of one connection (connector, lease, pacing,
sandbox). Any overlap of I/O with computation is orchestrated here, on an executor the
caller may pass in; the stages themselves (``syncd.plan``) start no threads.
"""
