"""Detection engines: where the photo stage's detector runs.

Both engines have one interface (`DetectionPool`): `submit` a capture (it blocks while the pool
already holds its limit of photos in flight, so the fleet side never buffers pixels without
bound), `next_result` for what has finished, `close`. The in-process pool is the default; the
Ray pool runs the same `Detector` as Ray actors on a cluster.
"""

from patrol.pipeline.engines.base import DetectionPool, Finished, InProcessPool, open_pool

__all__ = ["DetectionPool", "Finished", "InProcessPool", "open_pool"]
