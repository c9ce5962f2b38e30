// A participant of a leader election through Apache Curator's LeaderSelector
// (Debian's curator-recipes jar), for tests/curator/leader_selector_interop_test:
// it shares an election path with C++ LeaderSelectors.
//
//   java LeaderSelectorProbe <connect string> <path> <id> <session ms> <command file>
//
// Prints one flushed line per event:
//   STARTED <id>                  the selector started
//   TAKEN <id>                    takeLeadership began
//   RELEASED <id>                 takeLeadership returned after "release"
//   INTERRUPTED <id>              takeLeadership was interrupted
//   PARTICIPANTS <n> <list>       answer to "participants <n>": ids in
//                                 Curator's order, the leader marked with '*'
//   REQUEUED <id> <true|false>    answer to "requeue"
// Commands are lines appended to the command file: "release" (end
// takeLeadership), "participants <n>", "requeue", "close" (close and exit).
// It holds leadership until told, as a leader doing long work would.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.Semaphore;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.retry.RetryOneTime;

public class LeaderSelectorProbe {
  static synchronized void say(String line) {
    System.out.println(line);
    System.out.flush();
  }

  public static void main(String[] args) throws Exception {
    final String connect = args[0];
    final String path = args[1];
    final String id = args[2];
    final int sessionMs = Integer.parseInt(args[3]);
    final Path commands = Paths.get(args[4]);
    final Semaphore release = new Semaphore(0);

    CuratorFramework client = CuratorFrameworkFactory.newClient(
        connect, sessionMs, 10000, new RetryOneTime(100));
    client.start();
    client.blockUntilConnected();
    LeaderSelector selector = new LeaderSelector(client, path, new LeaderSelectorListenerAdapter() {
      @Override
      public void takeLeadership(CuratorFramework c) {
        say("TAKEN " + id);
        try {
          release.acquire();
          say("RELEASED " + id);
        } catch (InterruptedException e) {
          say("INTERRUPTED " + id);
          Thread.currentThread().interrupt();
        }
      }
    });
    selector.setId(id);
    selector.start();
    say("STARTED " + id);

    int done = 0;
    while (true) {
      List<String> lines = Files.exists(commands)
          ? Files.readAllLines(commands, StandardCharsets.UTF_8)
          : List.of();
      for (; done < lines.size(); ++done) {
        String[] command = lines.get(done).trim().split(" ");
        switch (command[0]) {
          case "release":
            release.release();
            break;
          case "participants": {
            StringBuilder list = new StringBuilder();
            for (Participant p : selector.getParticipants()) {
              if (list.length() > 0) list.append(',');
              list.append(p.getId()).append(p.isLeader() ? "*" : "");
            }
            say("PARTICIPANTS " + command[1] + " " + list);
            break;
          }
          case "requeue":
            say("REQUEUED " + id + " " + selector.requeue());
            break;
          case "close":
            selector.close();
            client.close();
            say("CLOSED " + id);
            System.exit(0);
            break;
          default:
            say("UNKNOWN " + lines.get(done));
        }
      }
      Thread.sleep(50);
    }
  }
}
