#!/bin/bash
# DevStack plugin entry point for pooling: sourced with the phase in $1/$2.
# The work itself is in lib/pooling.

source $DEST/pooling/devstack/lib/pooling 2>/dev/null || source $(dirname $0)/lib/pooling

if is_service_enabled pooling-api pooling-cond pooling-agent; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing pooling"
        install_pooling
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring pooling"
        configure_pooling
        create_pooling_accounts
        configure_cyborg_for_pooling
        configure_nova_for_pooling
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting pooling"
        init_pooling
        start_pooling
    fi
    if [[ "$1" == "unstack" ]]; then
        stop_pooling
    fi
    if [[ "$1" == "clean" ]]; then
        cleanup_pooling
    fi
fi
