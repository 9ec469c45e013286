"""InferSight agent: public API."""
