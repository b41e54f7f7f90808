#!/usr/bin/env bash
echo "sanity: (todo)"
