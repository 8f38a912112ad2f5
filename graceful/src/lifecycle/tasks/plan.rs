//! The tasks of one app, checked and sorted, with their stop budgets
//! resolved: what the start conductor starts.

use std::time::Duration;

use graceful_values::When;

use super::task::{Task, TaskContext};
use crate::config::Overrides;
use crate::error::Error;
use crate::lifecycle::callbacks::CALLBACK_WIND_DOWN;
use crate::lifecycle::declared::{Declared, in_order};

/// The tasks, sorted by moment, phase and name, with their budgets resolved.
#[derive(Debug)]
pub(crate) struct TaskPlan {
    pub(super) tasks: Vec<Budgeted>,
}

/// A task with its stop budget resolved.
#[derive(Debug)]
pub(super) struct Budgeted {
    pub(super) task: Declared<TaskContext>,
    pub(super) timeout: Duration,
}

impl TaskPlan {
    /// Checks the names (unique) and the budgets given in code, and
    /// resolves every budget, environment first.
    pub(crate) fn new(
        tasks: Vec<Task>,
        default_timeout: Duration,
        overrides: &Overrides,
    ) -> Result<Self, Error> {
        let budgeted = in_order(
            tasks.into_iter().map(|task| task.declared).collect(),
            default_timeout,
            |name| overrides.task_timeout(name),
        )
        .map_err(|disorder| {
            disorder.into_error("task", |name, first, second| Error::DuplicateTask {
                name,
                first,
                second,
            })
        })?
        .into_iter()
        .map(|(task, timeout)| Budgeted { task, timeout })
        .collect();
        Ok(TaskPlan { tasks: budgeted })
    }

    /// No task: what a start interrupted by the shutdown runs.
    pub(crate) fn none() -> Self {
        TaskPlan { tasks: Vec::new() }
    }

    /// The longest the tasks told at `when` can take to stop: per phase,
    /// the longest budget plus the wind-down.
    pub(crate) fn budget(&self, when: When) -> Duration {
        let mut total = Duration::ZERO;
        let mut phase = None;
        let mut longest = Duration::ZERO;
        for Budgeted { task, timeout } in self.tasks.iter().filter(|b| b.task.when == when) {
            if phase != Some(task.phase) {
                total += longest;
                longest = Duration::ZERO;
                phase = Some(task.phase);
            }
            longest = longest.max(*timeout + CALLBACK_WIND_DOWN);
        }
        total + longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Named;

    fn plan(tasks: Vec<Task>, env: &[(&'static str, &'static str)]) -> Result<TaskPlan, Error> {
        let env = |var: &str| {
            env.iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        };
        let names: Vec<String> = tasks.iter().map(|t| t.name().to_owned()).collect();
        let named = Named {
            tasks: names.iter().map(String::as_str).collect(),
            ..Named::default()
        };
        let overrides = Overrides::read(&env, &named).expect("overrides");
        TaskPlan::new(tasks, Duration::from_secs(5), &overrides)
    }

    fn idle(name: &str) -> Task {
        Task::new(name, |ctx| async move { ctx.stopping().await })
    }

    #[test]
    fn budgets_add_up_by_phase_for_each_moment() {
        let secs = Duration::from_secs;
        let plan = plan(
            vec![
                idle("a").timeout(secs(1)),
                idle("b").timeout(secs(2)),
                idle("c").phase(1),
                idle("d").stop(When::Signal).timeout(secs(7)),
            ],
            &[("GRACEFUL_TASK_TIMEOUT_B", "3s")],
        )
        .expect("a plan");
        assert_eq!(
            plan.budget(When::Drained),
            (secs(3) + CALLBACK_WIND_DOWN) + (secs(5) + CALLBACK_WIND_DOWN)
        );
        assert_eq!(plan.budget(When::Signal), secs(7) + CALLBACK_WIND_DOWN);
        let order: Vec<&str> = plan.tasks.iter().map(|b| &*b.task.name).collect();
        assert_eq!(order, ["d", "a", "b", "c"], "by moment, phase, name");
    }

    #[test]
    fn two_tasks_with_one_name_are_refused() {
        let err = plan(vec![idle("consume"), idle("consume").phase(1)], &[]).expect_err("refused");
        assert!(matches!(err, Error::DuplicateTask { .. }), "{err}");
    }
}
