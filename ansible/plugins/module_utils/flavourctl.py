# -*- coding: utf-8 -*-
# Copyright: flavourctl developers
# GNU General Public License v2.0 only (see COPYING or https://www.gnu.org/licenses/old-licenses/gpl-2.0.txt)
"""Running flavourctl on the target: its --json answers, and its refusals as failed tasks.

Every decision (which driver, which devices a selector names, whether anything would change,
whether it is safe) is flavourctl's; the modules only read its JSON.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

# flavourctl's exit codes (README, "Commands"): the modules report the reason flavourctl gives.
EXIT_REFUSED = 3


def common_argument_spec():
    return dict(
        flavourctl_path=dict(type="str", default="flavourctl"),
        machine=dict(type="str"),
        config=dict(type="path"),
    )


class Flavourctl(object):
    def __init__(self, module):
        self.module = module
        path = module.params["flavourctl_path"]
        if "/" in path:
            self.executable = path
        else:
            self.executable = module.get_bin_path(path, required=True, opt_dirs=["/usr/sbin", "/sbin"])

    def machine_args(self, rules=True):
        """--machine M (and --config DIR for the commands that read rules)."""
        params = self.module.params
        args = []
        if params["machine"]:
            args += ["--machine", params["machine"]]
        if rules and params["config"]:
            args += ["--config", params["config"]]
        return args

    def run(self, args):
        """(rc, stdout, stderr) of flavourctl ARGS."""
        return self.module.run_command([self.executable] + args, check_rc=False)

    def fail(self, args, rc, stderr, **extra):
        """A failed task with flavourctl's own words (its refusal, its error) as the message."""
        reason = "; ".join(line.strip() for line in stderr.splitlines() if line.strip())
        self.module.fail_json(
            msg=reason or "flavourctl exited %d" % rc,
            rc=rc,
            refused=rc == EXIT_REFUSED,
            command=[self.executable] + args,
            stderr=stderr,
            **extra
        )

    def json(self, args, **extra):
        """The parsed --json document of flavourctl ARGS; a failed task when it exits non-zero."""
        rc, out, err = self.run(args)
        if rc != 0:
            self.fail(args, rc, err, **extra)
        try:
            return json.loads(out)
        except ValueError as error:
            self.module.fail_json(
                msg="flavourctl printed no JSON (%s)" % error,
                command=[self.executable] + args,
                stdout=out,
                stderr=err,
            )

    def devices(self, selector=None):
        """list --json, only the devices SELECTOR names when given (list --match)."""
        args = ["list"] + self.machine_args(rules=False) + ["--json"]
        if selector:
            args += ["--match", selector]
        return self.json(args)


def plan_changes(document):
    """Whether a set/unset --json document (dry run or not) changes anything.

    A plan with no steps and every rule `keep` changes nothing: the device already has its
    flavour and its rule says so already.
    """
    members = document.get("members")
    plans = [member["plan"] for member in members] if members is not None else [document["plan"]]
    if any(plan["steps"] for plan in plans):
        return True
    return any(rule["change"] != "keep" for rule in document.get("rules", []))


def member_plans(document):
    """(plan, result or None) for each device a set/unset --json document moves."""
    members = document.get("members")
    if members is None:
        return [(document["plan"], document.get("result"))]
    return [(member["plan"], member.get("result")) for member in members]


def normalise_selector(text):
    """A selector as flavourctl writes it in a rule (`rules --json`'s match): one space, and
    lower-case hex for every kind but a pattern, which fnmatch matches case-sensitively."""
    parts = text.split()
    if parts and parts[0] != "pattern":
        parts = [part.lower() for part in parts]
    return " ".join(parts)
