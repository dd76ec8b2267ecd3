"""Sphinx configuration for the release notes."""

extensions = ['reno.sphinxext']
project = 'pooling release notes'
master_doc = 'index'
