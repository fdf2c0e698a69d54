"""RQ workers that hold the D2C model and run manipulate, generate and attribute-fitting jobs."""
