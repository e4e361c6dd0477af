"""The instructor's authoring tools: release, the self-check, the demo course and the mutants."""
