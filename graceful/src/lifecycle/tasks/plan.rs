//! The tasks of one app, checked and sorted, with their stop budgets
//! resolved: what the start conductor starts.

use std::time::Duration;

use graceful_values::When;

use super::task::Task;
use crate::config::{self, Overrides};
use crate::error::Error;
use crate::lifecycle::callbacks::CALLBACK_WIND_DOWN;

/// The tasks, sorted by moment, phase and name, with their budgets resolved.
#[derive(Debug)]
pub(crate) struct TaskPlan {
    pub(super) tasks: Vec<Budgeted>,
}

/// A task with its stop budget resolved.
#[derive(Debug)]
pub(super) struct Budgeted {
    pub(super) task: Task,
    pub(super) timeout: Duration,
}

impl TaskPlan {
    /// Checks the names (unique) and the budgets given in code, and
    /// resolves every budget, environment first.
    pub(crate) fn new(
        mut tasks: Vec<Task>,
        default_timeout: Duration,
        overrides: &Overrides,
    ) -> Result<Self, Error> {
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(pair) = tasks.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(Error::DuplicateTask {
                name: pair[0].name.clone(),
                first: pair[0].source,
                second: pair[1].source,
            });
        }
        if let Some(task) = tasks.iter().find(|t| t.name.is_empty()) {
            return Err(Error::Setting {
                setting: format!("name of the task declared at {}", task.source),
                reason: "a task's name cannot be empty".to_owned(),
            });
        }
        tasks.sort_by(|a, b| (a.stop, a.phase, &a.name).cmp(&(b.stop, b.phase, &b.name)));
        let mut budgeted = Vec::with_capacity(tasks.len());
        for task in tasks {
            if let Some(timeout) = task.timeout {
                config::check_duration(timeout).map_err(|reason| Error::Setting {
                    setting: format!("timeout of task {:?}", task.name),
                    reason,
                })?;
            }
            let timeout = overrides
                .task_timeout(&task.name)
                .or(task.timeout)
                .unwrap_or(default_timeout);
            budgeted.push(Budgeted { task, timeout });
        }
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
        for Budgeted { task, timeout } in self.tasks.iter().filter(|b| b.task.stop == when) {
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
        let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
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
        let order: Vec<&str> = plan.tasks.iter().map(|b| b.task.name()).collect();
        assert_eq!(order, ["d", "a", "b", "c"], "by moment, phase, name");
    }

    #[test]
    fn two_tasks_with_one_name_are_refused() {
        let err = plan(vec![idle("consume"), idle("consume").phase(1)], &[]).expect_err("refused");
        assert!(matches!(err, Error::DuplicateTask { .. }), "{err}");
    }
}
