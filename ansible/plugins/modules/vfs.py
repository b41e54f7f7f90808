#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flavourctl developers
# GNU General Public License v2.0 only (see COPYING or https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vfs
short_description: SR-IOV VFs born with their flavour
description:
  - Makes the PF C(pf) have C(count) VFs, each with its flavour from the moment it appears
    (C(flavourctl vfs PF N)). flavourctl creates them with C(sriov_drivers_autoprobe) off,
    gives each its flavour (C(flavour) or C(driver), else the saved rules, else the kernel's
    own driver), then turns autoprobe back on. No VF is ever bound to its host driver on the way.
  - A PF that has another number of VFs has them removed first (C(flavourctl vfs PF 0)), since
    the kernel changes C(sriov_numvfs) only from and to 0. flavourctl refuses that while a VM holds
    one of them, unless C(force).
  - With the right number of VFs, each VF that lacks the flavour gets it
    (C(flavourctl set VF --no-save), decided by flavourctl's plan). With nothing to do the task
    is C(changed=false).
version_added: 0.1.0
author:
  - flavourctl maintainers (!UNKNOWN)
extends_documentation_fragment:
  - flavourctl.vfio.common
options:
  pf:
    description: The SR-IOV PF, C(DDDD:BB:DD.F).
    type: str
    required: true
  count:
    description: How many VFs the PF must have. 0 removes them.
    type: int
    required: true
  flavour:
    description: C(vfio), the best vfio driver for each VF (mlx5_vfio_pci for ConnectX VFs).
    type: str
    choices: [vfio]
  driver:
    description: An explicit driver name for the VFs.
    type: str
  force:
    description: Remove VFs a VM holds, and go on past failed safety checks (C(--force)).
    type: bool
    default: false
notes:
  - Check mode changes nothing and says whether VFs would be made, removed or moved.
  - Diff mode shows the VFs and their drivers before and after.
attributes:
  check_mode:
    description: Runs flavourctl's plan only (C(--dry-run)) and changes nothing.
    support: full
  diff_mode:
    description: Shows the drivers (and rule files) before and after.
    support: full
"""

EXAMPLES = r"""
- name: Four ConnectX VFs, each on mlx5_vfio_pci from birth
  flavourctl.vfio.vfs:
    pf: "0000:01:00.0"
    count: 4
    flavour: vfio

- name: No VFs
  flavourctl.vfio.vfs:
    pf: "0000:01:00.0"
    count: 0
"""

RETURN = r"""
vfs:
  description: The PF's VFs after the task (in check mode, before), each with its driver.
  returned: always
  type: list
  elements: dict
  sample: [{address: "0000:01:00.1", driver: mlx5_vfio_pci}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.flavourctl.vfio.plugins.module_utils.flavourctl import (
    Flavourctl,
    common_argument_spec,
    plan_changes,
)


def main():
    argument_spec = dict(
        pf=dict(type="str", required=True),
        count=dict(type="int", required=True),
        flavour=dict(type="str", choices=["vfio"]),
        driver=dict(type="str"),
        force=dict(type="bool", default=False),
    )
    argument_spec.update(common_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    flavourctl = Flavourctl(module)
    machine = flavourctl.machine_args()
    pf, count = params["pf"], params["count"]
    force = ["--force"] if params["force"] else []
    flavour = (["--flavour", params["flavour"]] if params["flavour"] else []) + (
        ["--driver", params["driver"]] if params["driver"] else []
    )

    def vfs():
        return [dict(address=d["address"], driver=d["driver"]) for d in flavourctl.devices("vfs-of %s" % pf)]

    found = flavourctl.devices("address %s" % pf)
    sriov = found[0]["sriov"] if found else None
    if sriov is None:
        module.fail_json(msg="%s is not an SR-IOV PF on this host (flavourctl list --json: sriov is null)" % pf)
    before = vfs()

    if sriov["numVfs"] == count:
        # the VFs are there: those that lack the flavour get it, as flavourctl's plan says
        moves = []
        if flavour and count > 0:
            set_args = [["set", vf["address"]] + (["vfio"] if params["flavour"] else []) for vf in before]
            set_args = [
                args + (["--driver", params["driver"]] if params["driver"] else []) + ["--no-save"] + force + machine
                for args in set_args
            ]
            moves = [args for args in set_args if plan_changes(flavourctl.json(args + ["--dry-run", "--json"]))]
        changed = bool(moves)
        if changed and not module.check_mode:
            for args in moves:
                flavourctl.json(args + ["--json"])
    else:
        changed = True
        if not module.check_mode:
            if sriov["numVfs"] > 0:
                flavourctl.json(["vfs", pf, "0"] + force + machine + ["--json"])
            if count > 0:
                made = ["vfs", pf, str(count)] + flavour + force + machine + ["--json"]
                rc, out, err = flavourctl.run(made)
                if rc != 0:
                    flavourctl.fail(made, rc, err, vfs=vfs(), stdout=out)

    after = vfs() if changed and not module.check_mode else before
    result = dict(changed=changed, vfs=after)
    if module._diff:
        result["diff"] = dict(
            before_header="VFs of %s before" % pf,
            after_header="VFs of %s after" % pf,
            before="".join("%s %s\n" % (vf["address"], vf["driver"] or "(no driver)") for vf in before),
            after="".join("%s %s\n" % (vf["address"], vf["driver"] or "(no driver)") for vf in after),
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
