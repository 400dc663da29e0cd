"""Drives a real Label Studio through label-studio-sdk (run with Label Studio's own venv).

Usage: python label_studio_driver.py PLAN.json

The plan names the server (``url``, ``token``), a second annotator to create, and projects,
each with its labelling ``config``, the ``tasks`` file labline exported and the ``answers``:
``{labline_id: [[annotator, choice or "cancel"], ...]}``. For each project the driver creates
the project, imports the tasks (with their predictions), annotates through the API as the
plan says, exports the project as Label Studio's JSON and writes it to the project's ``out``
(and the predictions it holds per task to ``predictions_out``).
It prints the annotators' user ids as JSON.
"""

from __future__ import annotations

import json
import sys

from label_studio_sdk.client import LabelStudio


def main(plan_path: str) -> None:
    with open(plan_path) as f:
        plan = json.load(f)
    ls = LabelStudio(base_url=plan["url"], api_key=plan["token"])
    me = ls.users.whoami()
    other = ls.users.create(
        username="second", email=plan["second_annotator"], first_name="Second", last_name="One"
    )
    users = {"first": me.id, "second": other.id}
    for spec in plan["projects"]:
        project = ls.projects.create(title=spec["title"], label_config=spec["config"])
        with open(spec["tasks"]) as f:
            tasks = json.load(f)
        ls.projects.import_tasks(id=project.id, request=tasks, commit_to_project=True)
        by_labline = {}
        for task in ls.tasks.list(project=project.id, fields="all"):
            by_labline[str(task.data["labline_id"])] = task
        assert len(by_labline) == len(tasks), "Label Studio did not import every task"
        for labline_id, answers in spec["answers"].items():
            task = by_labline[labline_id]
            for who, choice in answers:
                cancelled = choice == "cancel"
                result = (
                    []
                    if cancelled
                    else [
                        {
                            "from_name": "label",
                            "to_name": "input",
                            "type": "choices",
                            "value": {"choices": [choice]},
                        }
                    ]
                )
                ls.annotations.create(
                    id=task.id,
                    result=result,
                    was_cancelled=cancelled,
                    completed_by=users[who],
                    project=project.id,
                )
        # what Label Studio holds as the model's predictions (its export lists only their ids)
        predictions = {
            labline_id: [
                {"score": p.score, "model_version": p.model_version, "result": p.result}
                for p in ls.predictions.list(task=task.id)
            ]
            for labline_id, task in by_labline.items()
        }
        with open(spec["predictions_out"], "w") as f:
            json.dump(predictions, f)
        exported = b"".join(
            ls.projects.exports.download_sync(
                project.id, export_type="JSON", download_all_tasks=True
            )
        )
        with open(spec["out"], "wb") as f:
            f.write(exported)
    print(json.dumps(users))  # the annotators' ids, which Label Studio's export names


if __name__ == "__main__":
    main(sys.argv[1])
