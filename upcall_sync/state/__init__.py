"""Live state: which filtered GETs to make, and the API's rows as the planner's `LiveState`."""
