"""`patrol demo`: the whole loop on one machine — plan, fly (simulated), detect, dispatch, report."""
