"""Loomis studio: ``loomis-lesson`` (a lesson from a painting process) and ``loomis-studio`` (a
local web app to paint, scrub the steps and read the lesson). Installed as ``loomis_studio``."""
