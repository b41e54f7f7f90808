# Nova's own reading of a `flavourctl export nova` text, run with Debian 13's python3-nova
# (OpenStack 2025.1) in the consumers chroot (test/export/fetch-consumers.sh). Reads a JSON
# request on stdin: {"conf": TEXT, "devices": [{"address", "vendor_id", "product_id"}]}.
# oslo.config parses TEXT as a nova.conf; nova.pci.whitelist.Whitelist builds a PciDeviceSpec
# from every [pci] device_spec (nova-compute's path) and says which spec, with which tags,
# takes each device; nova.pci.request's get_alias_from_config parses and validates every
# [pci] alias (nova-api's path). Prints {"devices": [TAGS or null], "aliases": {...}, "refused": MESSAGE}; any
# error of Nova's is a traceback and a non-zero exit.
import json
import os
import sys
import tempfile

import nova.conf
from nova.pci import request as pci_request
from nova.pci import whitelist

query = json.load(sys.stdin)
CONF = nova.conf.CONF
with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
    conf.write(query["conf"])
try:
    CONF(args=[], project="nova", default_config_files=[conf.name])
finally:
    os.unlink(conf.name)

specs = whitelist.Whitelist(CONF.pci.device_spec)
devices = []
for device in query["devices"]:
    spec = specs.device_assignable(dict(device, parent_addr=None))
    devices.append(None if spec is None else spec.get_tags())
# named _get_alias_from_config in Nova 31 (2025.1), get_alias_from_config in later releases
read_aliases = getattr(pci_request, "get_alias_from_config", None) or pci_request._get_alias_from_config
aliases = read_aliases()
# the same parser refuses a spec flavourctl must never write: a tag that is not a boolean
from nova import exception  # noqa: E402

try:
    whitelist.Whitelist(['{"address": "0000:01:00.1", "managed": "maybe"}'])
    refused = None
except exception.PciConfigInvalidSpec as error:
    refused = str(error)
print(json.dumps({
    "refused": refused,
    "device_specs": len(CONF.pci.device_spec),
    "devices": devices,
    "aliases": {name: {"numa_policy": policy, "specs": list(specs)} for name, (policy, specs) in aliases.items()},
}))
