"""openstackclient plugin for the pooling service."""
