namespace EdgePlatform.Agent.Core.Reconciliation;

/// <summary>One step of a reconcile plan. A failed plan undoes its executed steps in reverse.</summary>
public interface ICommand
{
    string Name { get; }

    Task ExecuteAsync(ReconcileContext context, CancellationToken cancellationToken);

    Task UndoAsync(ReconcileContext context, CancellationToken cancellationToken);
}
