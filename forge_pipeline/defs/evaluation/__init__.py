"""model_evaluation: the new model answering beside the base and the deployed one."""
