#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: flavourctl developers
# GNU General Public License v2.0 only (see COPYING or https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: flavour
short_description: Give PCI devices a vfio flavour, the kernel's own driver, or a named driver
description:
  - Gives the devices at C(address), or every device C(match) names, a flavour with
    C(flavourctl set), and saves it as a rule so that it comes back after a reboot, a hotplug or
    VF re-creation.
  - C(flavour=vfio) is the best vfio driver, the vfio-pci variant whose C(vfio_pci:) alias
    matches the device with the fewest wildcards (mlx5_vfio_pci for a ConnectX VF), else
    vfio-pci. C(flavour=default) is the kernel's own driver. C(driver) names one.
  - Every decision is flavourctl's. The module asks for flavourctl's plan first
    (C(--dry-run --json)). A plan with no steps whose rules are already saved is
    C(changed=false), so a second run changes nothing.
  - A safety check that refuses (an IOMMU group that would not be viable, a device the host
    uses, a PF whose VFs would go) fails the task with flavourctl's reason. Every device's plan
    is made before any device is moved, so a refusal moves nothing.
  - C(state=absent) gives the devices back to the kernel's own driver (C(flavourctl unset))
    and removes their saved rules.
version_added: 0.1.0
author:
  - flavourctl maintainers (!UNKNOWN)
extends_documentation_fragment:
  - flavourctl.vfio.common
options:
  address:
    description:
      - The device, C(DDDD:BB:DD.F).
      - One of C(address) and C(match) is required.
    type: str
  match:
    description:
      - Every device a rule with this selector names, as C(flavourctl list --match) finds them
        C(address DDDD:BB:DD.F), C(id VVVV:DDDD), C(id VVVV:DDDD:SVVV:SDDD), C(class CCSSPP),
        C(vfs-of DDDD:BB:DD.F) (every VF of that PF) or C(pattern GLOB).
      - With C(save=true) the rule saved is the selector itself (C(flavourctl set --match KIND)),
        so devices that appear later get the flavour too. A C(class) must then give all six
        digits, and a C(pattern) cannot be saved by C(set); use C(save=false) for them.
      - Naming no device is not an error. Nothing changes, and C(devices) is empty.
    type: str
  flavour:
    description:
      - C(vfio), the best vfio driver, or C(default), the kernel's own driver (the device's
        address rule is removed).
      - With C(state=present), C(flavour) or C(driver) is required.
    type: str
    choices: [vfio, default]
  driver:
    description:
      - An explicit driver or module name (C(pci-stub), C(mlx5_vfio_pci)). With C(flavour=vfio)
        it must be a vfio driver.
    type: str
  group:
    description:
      - Move every member of each device's IOMMU group (bridges excepted), all or none, and save
        an address rule for each (C(set --group)).
      - With C(state=absent), give every member back and remove their address rules.
    type: bool
    default: false
  save:
    description:
      - Save the flavour as a rule (C(false) is C(set --no-save)).
    type: bool
    default: true
  force:
    description:
      - Go on when a safety check fails (C(--force)). Some checks cannot be overridden (a VF a
        VM holds, a tie between variants, a driver nothing has).
    type: bool
    default: false
  state:
    description:
      - C(present) gives the flavour; C(absent) gives the devices back to the kernel's own
        driver and removes their rules (with C(match), the rule with that selector too).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Check mode runs C(flavourctl set --dry-run) and changes nothing.
  - Diff mode shows each device's driver before and after, and each rule file added, replaced
    or removed.
  - Writing commands take flavourctl's host lock, so the module and a udev hook never
    interleave.
attributes:
  check_mode:
    description: Runs flavourctl's plan only (C(--dry-run)) and changes nothing.
    support: full
  diff_mode:
    description: Shows the drivers (and rule files) before and after.
    support: full
"""

EXAMPLES = r"""
- name: Every ConnectX VF gets its variant (mlx5_vfio_pci), and so will VFs made later
  flavourctl.vfio.flavour:
    match: id 15b3:101e
    flavour: vfio

- name: The GPU and the rest of its IOMMU group go to vfio-pci together
  flavourctl.vfio.flavour:
    address: "0000:0a:00.0"
    flavour: vfio
    group: true

- name: Try it on flavourctl's simulated server first
  flavourctl.vfio.flavour:
    address: "0000:01:00.1"
    flavour: vfio
    machine: demo

- name: Give the VF back to mlx5_core and forget its flavour
  flavourctl.vfio.flavour:
    address: "0000:01:00.1"
    state: absent
"""

RETURN = r"""
devices:
  description:
    - One entry for each device the task moved or would move (with C(group), every member).
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The device.
      type: str
      sample: "0000:01:00.1"
    before:
      description: The driver bound before (null when none).
      type: str
      sample: mlx5_core
    after:
      description:
        - The driver bound after; in check mode the one flavourctl's plan goes to (a module
          name while the module is not loaded yet).
      type: str
      sample: mlx5_vfio_pci
    steps:
      description: The actions of flavourctl's plan (empty when the device has its flavour).
      type: list
      elements: str
      sample: [load-module, find-driver, write-override, unbind, probe, verify]
    reason:
      description: Why flavourctl chose the target.
      type: str
      sample: variant mlx5_vfio_pci matches with 5 wildcard fields, fewer than vfio_pci (7)
rules:
  description: The rule files added, replaced, kept or removed (flavourctl's C(rules) in C(--json)).
  returned: always
  type: list
  elements: dict
  sample: [{name: address-0000:01:00.1, path: /etc/flavourctl/rules.d/address-0000:01:00.1.rule, change: add}]
documents:
  description: flavourctl's own C(--json) answers, one for each device, for what the summary leaves out.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.flavourctl.vfio.plugins.module_utils.flavourctl import (
    Flavourctl,
    common_argument_spec,
    member_plans,
    normalise_selector,
    plan_changes,
)

# what `set --match KIND` saves for a selector of each kind (None: set cannot save it)
SAVED_KIND = {"address": "address", "vfs-of": "vfs-of", "class": "class", "pattern": None}


def saved_kind(selector):
    kind, _, value = selector.partition(" ")
    if kind == "id":
        return "subsystem" if value.count(":") == 3 else "id"
    if kind == "class" and len(value) != 6:
        return None
    return SAVED_KIND.get(kind)


def set_args(params, address, kind):
    args = ["set", address]
    if params["flavour"]:
        args.append(params["flavour"])
    if params["driver"]:
        args += ["--driver", params["driver"]]
    if params["group"]:
        args.append("--group")
    if not params["save"]:
        args.append("--no-save")
    elif kind:
        args += ["--match", kind]
    return args


def absent_args(params, address):
    if params["group"]:
        return ["set", address, "default", "--group"]
    return ["unset", address]


def summary(plan, result):
    target = plan["target"]
    if result:
        after = result["final"]["driver"]
    elif not plan["steps"]:
        after = plan["from"]["driver"]
    else:
        # check mode: where the plan goes (a module's name while it is not loaded yet)
        after = target.get("driver") or target.get("module") or ",".join(target.get("modules") or []) or None
    return dict(
        address=plan["address"],
        before=plan["from"]["driver"],
        after=after,
        steps=[step["action"] for step in plan["steps"]],
        reason=target.get("reason"),
    )


def main():
    argument_spec = dict(
        address=dict(type="str"),
        match=dict(type="str"),
        flavour=dict(type="str", choices=["vfio", "default"]),
        driver=dict(type="str"),
        group=dict(type="bool", default=False),
        save=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    argument_spec.update(common_argument_spec())
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("address", "match")],
        required_one_of=[("address", "match")],
        supports_check_mode=True,
    )
    params = module.params
    present = params["state"] == "present"
    if present and not (params["flavour"] or params["driver"]):
        module.fail_json(msg="state=present needs flavour or driver")
    if not present and (params["flavour"] or params["driver"]):
        module.fail_json(msg="state=absent gives the kernel's own driver back: it takes no flavour or driver")
    kind = None
    if params["match"] and present and params["save"] and not params["group"]:
        kind = saved_kind(normalise_selector(params["match"]))
        if kind is None:
            module.fail_json(
                msg="match %r cannot be saved as a rule by flavourctl set (a class needs all six digits; "
                "a pattern cannot be saved): use save=false" % params["match"]
            )
    flavourctl = Flavourctl(module)
    machine = flavourctl.machine_args()

    if params["address"]:
        addresses = [params["address"]]
    else:
        addresses = [device["address"] for device in flavourctl.devices(params["match"])]

    def command(address):
        args = set_args(params, address, kind) if present else absent_args(params, address)
        return args + (["--force"] if params["force"] else []) + machine + ["--json"]

    # every plan first: a refusal anywhere fails the task before any device moves
    plans = [(address, flavourctl.json(command(address) + ["--dry-run"])) for address in addresses]
    selector_rules = []
    if not present:
        # the rules that still give the devices a flavour: their address rules (unset removes
        # them itself; a group member's are left by set --group default) and, with match,
        # the rule with that selector
        members = set(plan["address"] for _, document in plans for plan, _ in member_plans(document))
        wanted = set("address %s" % member for member in members)
        if params["match"]:
            wanted.add(normalise_selector(params["match"]))

        def saved_rules():
            listed = flavourctl.json(["rules"] + machine + ["--json"])
            return [rule for rule in listed["rules"] if rule["match"] in wanted]

        selector_rules = saved_rules()
    changed = any(plan_changes(document) for _, document in plans) or bool(selector_rules)

    documents = []
    if changed and not module.check_mode:
        for address, planned in plans:
            # a device moved with an earlier device's group has nothing left to do
            if plan_changes(planned):
                documents.append(flavourctl.json(command(address), devices=summarise(documents)))
            else:
                documents.append(planned)
        for rule in saved_rules() if not present else []:
            rc, out, err = flavourctl.run(["rules", "--remove", rule["name"]] + machine)
            if rc != 0:
                flavourctl.fail(["rules", "--remove", rule["name"]], rc, err, devices=summarise(documents))
    else:
        documents = [document for _, document in plans]

    rules = [rule for document in documents for rule in document.get("rules", [])]
    rules += [dict(name=rule["name"], path=rule["file"], change="remove") for rule in selector_rules]
    rules = unique_rules(rules)
    devices = summarise(documents)
    result = dict(changed=changed, devices=devices, rules=rules, documents=documents)
    if module._diff:
        result["diff"] = diff(devices, rules)
    module.exit_json(**result)


def summarise(documents):
    seen = {}
    for document in documents:
        for plan, result in member_plans(document):
            entry = summary(plan, result)
            if entry["address"] not in seen or entry["steps"]:
                seen[entry["address"]] = entry
    return list(seen.values())


def unique_rules(rules):
    by_name = {}
    for rule in rules:
        if rule["name"] not in by_name or rule["change"] != "keep":
            by_name[rule["name"]] = rule
    return list(by_name.values())


def diff(devices, rules):
    before = ["%s %s" % (d["address"], d["before"] or "(no driver)") for d in devices]
    after = ["%s %s" % (d["address"], d["after"] or "(no driver)") for d in devices]
    for rule in rules:
        if rule["change"] in ("add", "replace"):
            after.append("rule %s" % rule["path"])
        if rule["change"] in ("replace", "remove"):
            before.append("rule %s" % rule["path"])
        if rule["change"] == "keep":
            before.append("rule %s" % rule["path"])
            after.append("rule %s" % rule["path"])
    return dict(
        before_header="drivers and rules before",
        after_header="drivers and rules after",
        before="".join(line + "\n" for line in before),
        after="".join(line + "\n" for line in after),
    )


if __name__ == "__main__":
    main()
