"""Type helpers of kfp.dsl (artifact classes and annotations)."""
